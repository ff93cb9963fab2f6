// Long C++ (and Rust) names cut to a width a table can hold, keeping what tells functions
// apart: the qualified name's end. Template arguments and a trailing parameter list go
// first ("std::vector<Foo, std::allocator<Foo>>::_M_realloc_insert(...)" becomes
// "std::vector<…>::_M_realloc_insert(…)"), then the middle. Text only: JSON keeps names whole.

enum NameShortener {
    static func shorten(_ name: String, to width: Int) -> String {
        guard name.count > width, width >= 8 else { return name }
        var text = collapseParameters(name)
        if text.count > width { text = collapseTemplates(text) }
        if text.count > width {
            // The end names the function; the start its namespace. Cut where a scope
            // begins ("…::method(…)") when the method fits, else anywhere.
            if let cut = cutAtScope(text, to: width) { return cut }
            let tail = width * 2 / 3
            text = String(text.prefix(width - tail - 1)) + "…" + String(text.suffix(tail))
        }
        return text
    }

    /// `text`'s start and the most trailing scopes ("::Class<…>::method(…)") that fit
    /// in `width` with "…" between; nil when not even the last one fits beside a few
    /// characters of the start.
    static func cutAtScope(_ text: String, to width: Int) -> String? {
        let chars = Array(text)
        let minimumStart = 4
        var kept: Int?
        var i = chars.count - 2
        while i > 0 {
            if chars[i] == ":" && chars[i + 1] == ":" && chars[i - 1] != ":" {
                guard chars.count - i + 1 + minimumStart <= width else { break }
                kept = i
            }
            i -= 1
        }
        guard let kept else { return nil }
        return String(chars[..<(width - 1 - (chars.count - kept))]) + "…" + String(chars[kept...])
    }

    /// "f(int, char const*) const" → "f(…) const": only a parameter list that closes the
    /// name (so "(anonymous namespace)::g" keeps its parentheses).
    static func collapseParameters(_ name: String) -> String {
        let chars = Array(name)
        // The last ')' followed only by qualifiers.
        guard let close = chars.lastIndex(of: ")") else { return name }
        let rest = String(chars[(close + 1)...]).trimmingCharacters(in: " ")
        guard ["", "const", "&", "&&", "const&", "const &", "volatile", "const volatile"].contains(rest) else { return name }
        var depth = 0
        var i = close
        while i >= 0 {
            if chars[i] == ")" { depth += 1 } else if chars[i] == "(" {
                depth -= 1
                if depth == 0 { break }
            }
            i -= 1
        }
        guard i > 0, close - i > 1 else { return name }
        return String(chars[...i]) + "…" + String(chars[close...])
    }

    /// Every outermost "<…>" emptied, leaving "operator<", "operator<<" and "->" alone.
    static func collapseTemplates(_ name: String) -> String {
        var out = ""
        var depth = 0
        var previous: Character = " "
        for c in name {
            let isOperator = out.hasSuffix("operator") || out.hasSuffix("operator<")
            if c == "<" && !isOperator {
                if depth == 0 { out.append("<"); out.append("…") }
                depth += 1
            } else if c == ">" && depth > 0 && previous != "-" {
                depth -= 1
                if depth == 0 { out.append(">") }
            } else if depth == 0 {
                out.append(c)
            }
            previous = c
        }
        // Unbalanced (a cut name): better the original than a wrong one.
        return depth == 0 ? out : name
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
