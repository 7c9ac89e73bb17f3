/// What a `:` command's argument is: it drives parsing, `Tab` completion and the help's synopsis.
public enum CommandArgument: Sendable, Equatable {
    /// No argument.
    case none
    /// An optional grant id (`:grant 12`) or grants filter words (`:grants server:files status:expired`).
    case grantFilter
    /// A theme name or a theme file path (optional: without one the command says which themes there are).
    case theme
    /// `csv|json PATH`.
    case export
}

/// What a `:` command does.
public enum CommandAction: Sendable, Equatable {
    /// Switch to a top-level view.
    case view(ViewKind)
    /// The grants, or one grant's detail with an id.
    case grants
    case theme
    case export
    /// Revoke every grant of the current filter (the `X` key).
    case revokeAll
    case help
    case quit
}

/// One row of the command table.
public struct ConsoleCommand: Sendable {
    /// The name the help shows, and the other words that run the same command.
    public var name: String
    public var aliases: [String]
    public var argument: CommandArgument
    /// How the help writes the argument (`ID`, `csv|json PATH`).
    public var argumentLabel: String?
    /// The help's description.
    public var summary: String
    /// Changes data: hidden and refused with `--read-only`.
    public var dangerous: Bool
    /// Whether `NAME!` is accepted (`:export!` overwrites an existing file).
    public var acceptsBang: Bool
    public var action: CommandAction

    public init(_ name: String, aliases: [String] = [], argument: CommandArgument = .none, label: String? = nil, summary: String,
                dangerous: Bool = false, acceptsBang: Bool = false, action: CommandAction) {
        self.name = name
        self.aliases = aliases
        self.argument = argument
        argumentLabel = label
        self.summary = summary
        self.dangerous = dangerous
        self.acceptsBang = acceptsBang
        self.action = action
    }

    /// `:export csv|json PATH`, as the help and error messages write it.
    public var synopsis: String { ":" + name + (argumentLabel.map { " " + $0 } ?? "") }

    /// Every word that runs this command.
    public var words: [String] { [name] + aliases }
}

/// The one command table: parsing, `Tab` completion, the help and the unknown-command message all read it.
public enum CommandTable {
    public static let commands: [ConsoleCommand] = [
        ConsoleCommand("grants", aliases: ["grant"], argument: .grantFilter, label: "[ID | FILTER]",
                       summary: "the grants; with an id that grant's detail, with filter words that filter", action: .grants),
        ConsoleCommand("servers", aliases: ["server"], summary: "the servers", action: .view(.servers)),
        ConsoleCommand("providers", aliases: ["provider"], summary: "the upstream providers", action: .view(.providers)),
        ConsoleCommand("clients", aliases: ["client"], summary: "the registered clients", action: .view(.clients)),
        ConsoleCommand("audit", aliases: ["log"], summary: "the audit log, newest first", action: .view(.audit)),
        ConsoleCommand("theme", argument: .theme, label: "NAME",
                       summary: "switch theme (a name from themes/, or a file path)", action: .theme),
        ConsoleCommand("export", argument: .export, label: "csv|json PATH",
                       summary: "write every grant of the filter to a new file (0600); :export! replaces one",
                       acceptsBang: true, action: .export),
        ConsoleCommand("revoke-all", summary: "revoke every grant of the filter (as X; asks first)", dangerous: true, action: .revokeAll),
        ConsoleCommand("help", summary: "this help", action: .help),
        ConsoleCommand("q", aliases: ["quit", "exit"], summary: "quit", acceptsBang: true, action: .quit),
    ]

    /// The export formats `:export` takes.
    public static let exportFormats = ["csv", "json"]

    /// The command a typed word names (`export!` names `export` with the bang), or `nil`.
    public static func command(named word: String) -> (command: ConsoleCommand, bang: Bool)? {
        let lowered = word.lowercased()
        let bang = lowered.hasSuffix("!")
        let bare = bang ? String(lowered.dropLast()) : lowered
        guard let command = commands.first(where: { $0.words.contains(bare) }), !bang || command.acceptsBang else { return nil }
        return (command, bang)
    }

    /// The commands offered: dangerous ones left out when `readOnly`.
    public static func visible(readOnly: Bool) -> [ConsoleCommand] {
        commands.filter { !(readOnly && $0.dangerous) }
    }
}
