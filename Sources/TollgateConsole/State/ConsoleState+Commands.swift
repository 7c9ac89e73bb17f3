import TollgateCore

extension ConsoleState {
    /// The `:` commands, for the help and for error messages.
    public static let commands = [":servers", ":providers", ":clients", ":grants", ":grant ID", ":audit", ":theme NAME", ":help", ":q"]

    /// Runs a `:` command line.
    mutating func runCommand(_ line: String) -> [ConsoleEffect] {
        let words = line.split(separator: " ").map(String.init)
        guard let name = words.first?.lowercased() else { return [] }
        let argument = words.count > 1 ? words[1] : nil
        switch name {
        case "servers", "server": return switchTo(.servers)
        case "providers", "provider": return switchTo(.providers)
        case "clients", "client": return switchTo(.clients)
        case "audit", "log": return switchTo(.audit)
        case "grants", "grant":
            if let argument {
                guard let id = Int64(argument) else {
                    show(.error, "':grant' takes a grant id, not '\(argument)'")
                    return []
                }
                stack = [.grants]
                return enter(.grants) + openDetail(id)
            }
            return switchTo(.grants)
        case "theme":
            guard let argument else {
                show(.info, "theme \(theme.name); available: \(options.themeNames.joined(separator: ", "))")
                return []
            }
            return [.loadTheme(name: argument)]
        case "help":
            mode = .help(scroll: 0)
            return []
        case "q", "q!", "quit", "exit":
            isFinished = true
            return [.quit]
        default:
            show(.error, "unknown command ':\(name)' (commands: \(Self.commands.joined(separator: " ")))")
            return []
        }
    }
}
