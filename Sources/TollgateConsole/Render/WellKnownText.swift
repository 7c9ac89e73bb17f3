import Foundation

/// The well-known view's text: each document's title and URL, then its bytes exactly as served, coloured.
public enum WellKnownText {
    /// Both documents, each under its title and URL.
    public static func lines(for documents: WellKnownDocuments) -> [StyledLine] {
        var lines: [StyledLine] = []
        func document(_ title: String, _ url: String, _ data: Data) {
            lines.append(StyledLine(title, .label))
            lines.append(StyledLine([Span("GET ", .muted), Span(url, .muted)]))
            var text = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
            if text.last == "" { text.removeLast() }
            lines += text.map(JSONHighlighter.highlight)
        }
        document("Authorization server metadata (RFC 8414)", documents.authorizationServerURL, documents.authorizationServer)
        lines.append(StyledLine())
        document("Protected resource metadata (RFC 9728)", documents.protectedResourceURL, documents.protectedResource)
        return lines
    }
}
