// Numbers as people read them in a line of text: 1234567 → "1,234,567". One rule for every
// message, report and table (no locale: output must not change from machine to machine).

extension BinaryInteger {
    /// The value with its digits grouped in threes by commas.
    public var grouped: String {
        let digits = String(magnitude)
        var out = ""
        out.reserveCapacity(digits.count + digits.count / 3 + 1)
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return self < 0 ? "-" + out : out
    }
}
