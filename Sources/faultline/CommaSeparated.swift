// Options that take several values in one word ("--page-size 4k,2m", "--pid 4242,4250"):
// the words between the commas, each without the spaces around it. (Foundation's
// trimmingCharacters(in:) set up its character sets on first use: 7% of `replay`'s option
// parsing, on every run, perf.)

func commaSeparatedWords(_ values: [String]) -> [String] {
    values.flatMap { $0.split(separator: ",") }.map { word in
        guard let first = word.firstIndex(where: { !$0.isWhitespace }),
              let last = word.lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(word[first...last])
    }
}
