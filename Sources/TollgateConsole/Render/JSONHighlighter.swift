/// Colours one line of JSON text without changing a character: keys, strings, numbers, literals and
/// punctuation get their roles; the spans joined give back the line exactly.
public enum JSONHighlighter {
    /// The line as spans; their text joined is `line`.
    public static func highlight(_ line: String) -> StyledLine {
        var spans: [Span] = []
        let chars = Array(line)
        var i = 0
        func emit(_ text: String, _ role: StyleRole) {
            if let last = spans.last, last.role == role { spans[spans.count - 1].text += text } else { spans.append(Span(text, role)) }
        }
        while i < chars.count {
            let c = chars[i]
            if c == "\"" {
                var j = i + 1
                while j < chars.count && chars[j] != "\"" { j += chars[j] == "\\" ? 2 : 1 }
                j = min(j + 1, chars.count)
                var k = j
                while k < chars.count && chars[k] == " " { k += 1 }
                let isKey = k < chars.count && chars[k] == ":"
                emit(String(chars[i..<j]), isKey ? .jsonKey : .jsonString)
                i = j
            } else if c == "-" || c.isNumber {
                var j = i + 1
                while j < chars.count, chars[j].isNumber || "+-.eE".contains(chars[j]) { j += 1 }
                emit(String(chars[i..<j]), .jsonNumber)
                i = j
            } else if c.isLetter {
                var j = i + 1
                while j < chars.count && chars[j].isLetter { j += 1 }
                emit(String(chars[i..<j]), .jsonLiteral)
                i = j
            } else if "{}[],:".contains(c) {
                emit(String(c), .jsonPunctuation)
                i += 1
            } else {
                emit(String(c), .normal)
                i += 1
            }
        }
        return StyledLine(spans)
    }
}
