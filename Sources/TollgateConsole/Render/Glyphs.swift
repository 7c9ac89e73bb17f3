/// The non-ASCII characters the console draws, with ASCII stand-ins for terminals whose locale is not UTF-8.
public struct Glyphs: Sendable, Equatable {
    /// Marks the selected row (besides its highlight).
    public var marker: String
    /// Ends text that was cut.
    public var ellipsis: String
    /// Box drawing: lines and corners of dialogs and rules.
    public var horizontal: String
    public var vertical: String
    public var topLeft: String
    public var topRight: String
    public var bottomLeft: String
    public var bottomRight: String
    /// Between parts of the title.
    public var separator: String
    /// The cursor of the input line.
    public var cursor: String
    /// The spinner's frames (ten a second).
    public var spinner: [String]

    /// For UTF-8 terminals.
    public static let unicode = Glyphs(marker: "▸", ellipsis: "…", horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐",
                                       bottomLeft: "└", bottomRight: "┘", separator: "·", cursor: "█",
                                       spinner: ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"])
    /// For terminals whose locale is not UTF-8.
    public static let ascii = Glyphs(marker: ">", ellipsis: "~", horizontal: "-", vertical: "|", topLeft: "+", topRight: "+",
                                     bottomLeft: "+", bottomRight: "+", separator: "-", cursor: "_",
                                     spinner: ["|", "/", "-", "\\"])
}
