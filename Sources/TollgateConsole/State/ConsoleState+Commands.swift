import Foundation
import TollgateCore

extension ConsoleState {
    /// Runs a `:` command line, as the ``CommandTable`` defines it.
    mutating func runCommand(_ line: String) -> [ConsoleEffect] {
        let words = line.split(separator: " ").map(String.init)
        guard let word = words.first else { return [] }
        let arguments = Array(words.dropFirst())
        guard let found = CommandTable.command(named: word) else {
            let names = CommandTable.visible(readOnly: options.readOnly).map { ":" + $0.name }.joined(separator: " ")
            show(.error, "unknown command ':\(word)' (commands: \(names); Tab completes)")
            return []
        }
        let command = found.command, bang = found.bang
        if command.dangerous && options.readOnly {
            show(.warning, "read-only: ':\(command.name)' is disabled")
            return []
        }
        if command.argument == .none, !arguments.isEmpty {
            show(.error, "':\(command.name)' takes no argument")
            return []
        }
        switch command.action {
        case .view(let target):
            return switchTo(target)
        case .grants:
            guard let argument = arguments.first else { return switchTo(.grants) }
            guard let id = Int64(argument) else {
                // Filter words: the grants view with that filter.
                let text = arguments.joined(separator: " ")
                if case .failure(let error) = GrantFilter.parse(text) {
                    show(.error, "':grants': \(error.message)")
                    return []
                }
                stack = [.grants]
                mode = .browse
                grants.filterText = text
                grants.filter = (try? GrantFilter.parse(text).get()) ?? GrantFilter()
                return restartGrants()
            }
            stack = [.grants]
            return enter(.grants) + openDetail(id)
        case .theme:
            guard let argument = arguments.first else {
                show(.info, "theme \(theme.name); available: \(options.themeNames.joined(separator: ", "))")
                return []
            }
            return [.loadTheme(name: argument)]
        case .export:
            return startExport(arguments, overwrite: bang)
        case .revokeAll:
            if view != .grants { _ = switchTo(.grants) }
            if let reason = bulkUnavailableReason {
                show(.warning, "revoke-all: \(reason)")
                return []
            }
            return askBulk(.revoke)
        case .help:
            mode = .help(HelpView())
            return []
        case .quit:
            isFinished = true
            return [.quit]
        }
    }

    /// `Tab` in a `:` line: completes the command name, then its argument (grant filter words with the server
    /// slugs and client ids loaded, theme names, export formats). One candidate is taken; several extend the
    /// line to what they share and are listed in the footer.
    public func complete(_ editor: LineEditor) -> LineEditor {
        var editor = editor
        let parts = editor.text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let typed = parts.last ?? ""
        var candidates: [String]
        if parts.count <= 1 {
            candidates = CommandTable.visible(readOnly: options.readOnly).flatMap(\.words).filter { $0.hasPrefix(typed.lowercased()) }
        } else if let command = CommandTable.command(named: parts[0])?.command {
            candidates = argumentCandidates(command, position: parts.count - 2, typed: typed).filter { $0.hasPrefix(typed) }
        } else {
            candidates = []
        }
        candidates = candidates.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        editor.candidates = candidates.count > 1 ? candidates : []
        guard let first = candidates.first else { return editor }
        let head = parts.dropLast().map { $0 + " " }.joined()
        if candidates.count == 1 {
            // A finished word gets its space, unless it is a `key:` waiting for its value or the end of the line.
            let more = parts.count <= 1 ? CommandTable.command(named: first)?.command.argument != CommandArgument.none : !first.hasSuffix(":")
            editor.text = head + first + (more ? " " : "")
        } else {
            editor.text = head + candidates.dropFirst().reduce(first) { String($0.commonPrefix(with: $1)) }
        }
        return editor
    }

    /// What the argument at `position` of `command` can be, given the word typed so far.
    func argumentCandidates(_ command: ConsoleCommand, position: Int, typed: String) -> [String] {
        switch (command.argument, position) {
        case (.theme, 0): return options.themeNames
        case (.export, 0): return CommandTable.exportFormats
        case (.grantFilter, _):
            if typed.hasPrefix("server:") { return servers.loaded.map { "server:" + $0.server.slug } }
            if typed.hasPrefix("client:") { return clients.loaded.map { "client:" + $0.client.id } }
            if typed.hasPrefix("status:") { return GrantStatus.allCases.map { "status:" + $0.rawValue } }
            return ["server:", "client:", "status:"]
        default: return []
        }
    }

    /// The loads that completion needs (server slugs, client ids), when they have not been made yet.
    mutating func loadCompletionData() -> [ConsoleEffect] {
        var effects: [ConsoleEffect] = []
        if !servers.isLoaded && servers.request == nil {
            let id = nextRequest()
            servers.request = id
            effects.append(.loadServers(request: id))
        }
        if !clients.isLoaded && clients.request == nil { effects += loadClients(appending: false) }
        return effects
    }
}
