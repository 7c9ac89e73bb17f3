import Foundation

/// Which scopes the MCP calls of one server need, and which scopes imply others (part of ``ServerPolicy``).
///
/// A call needs the scopes of its method (`methodScopes["resources/read"]`) and, for `tools/call`, those of the
/// tool it names (`toolScopes["write_file"]`). A grant satisfies a call when its scopes, closed under
/// ``implies`` (transitively; cycles are harmless), contain every scope the call needs. No rules: nothing is
/// checked and the gateway never reads a request body.
public struct ScopeRules: Sendable, Equatable, Codable {
    /// Tool name → the scopes a `tools/call` of that tool needs.
    public var toolScopes: [String: [String]]
    /// MCP method (`resources/read`, `prompts/get`, `tools/call`, …) → the scopes every call of it needs.
    public var methodScopes: [String: [String]]
    /// Scope → the scopes it implies (`files.write` → `files.read`).
    public var implies: [String: [String]]

    public init(toolScopes: [String: [String]] = [:], methodScopes: [String: [String]] = [:], implies: [String: [String]] = [:]) {
        self.toolScopes = toolScopes
        self.methodScopes = methodScopes
        self.implies = implies
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        toolScopes = try container.decodeIfPresent([String: [String]].self, forKey: .toolScopes) ?? [:]
        methodScopes = try container.decodeIfPresent([String: [String]].self, forKey: .methodScopes) ?? [:]
        implies = try container.decodeIfPresent([String: [String]].self, forKey: .implies) ?? [:]
    }

    /// Whether any call needs a scope: without such rules the gateway forwards without looking at the body.
    public var requiresScopes: Bool {
        toolScopes.values.contains { !$0.isEmpty } || methodScopes.values.contains { !$0.isEmpty }
    }

    /// Whether there is nothing at all: no call rules and no hierarchy.
    public var isEmpty: Bool { toolScopes.isEmpty && methodScopes.isEmpty && implies.isEmpty }

    /// The scopes a call of `method` (naming tool `name` when it is `tools/call`) needs, sorted, without repeats.
    public func requiredScopes(method: String, name: String?) -> [String] {
        var needed = Set(methodScopes[method] ?? [])
        if method == "tools/call", let name { needed.formUnion(toolScopes[name] ?? []) }
        return needed.sorted()
    }

    /// `granted` with every scope it implies, transitively.
    public func closure(of granted: some Sequence<String>) -> Set<String> {
        var closed = Set<String>()
        var pending = Array(granted)
        while let scope = pending.popLast() {
            guard closed.insert(scope).inserted else { continue }
            pending.append(contentsOf: implies[scope] ?? [])
        }
        return closed
    }

    /// The scopes of `required` that `granted` (closed under ``implies``) lacks, in the order of `required`.
    public func missing(_ required: [String], granted: some Sequence<String>) -> [String] {
        guard !required.isEmpty else { return [] }
        let closed = closure(of: granted)
        return required.filter { !closed.contains($0) }
    }

    /// The scopes of `serverScopes` a client should start with (the `scope` of the gateway's 401 challenge): all
    /// but the step-up ones. A scope is step-up when only tools need it (``toolScopes`` names it and no method rule
    /// does), or when it implies such a scope: the client asks for it when it calls such a tool and gets 403.
    public func initialScopes(of serverScopes: [String]) -> [String] {
        let methodNeeded = Set(methodScopes.values.joined())
        let toolOnly = Set(toolScopes.values.joined()).subtracting(methodNeeded)
        guard !toolOnly.isEmpty else { return serverScopes }
        return serverScopes.filter { closure(of: [$0]).isDisjoint(with: toolOnly) }
    }

    /// Every scope the rules name, on either side of a mapping or the hierarchy.
    public var namedScopes: Set<String> {
        var all = Set<String>()
        for map in [toolScopes, methodScopes] { for scopes in map.values { all.formUnion(scopes) } }
        for (scope, implied) in implies {
            all.insert(scope)
            all.formUnion(implied)
        }
        return all
    }
}

extension ScopeRules {
    /// Throws `.invalidInput` for a tool or method name that is empty or holds whitespace or control characters,
    /// and for a scope that is not one of `serverScopes` (a rule naming a scope no client can be granted would
    /// refuse every call).
    public func validate(serverScopes: [String]) throws {
        let known = Set(serverScopes)
        func checkName(_ name: String, _ what: String) throws {
            guard !name.isEmpty, name.count <= 200,
                  !name.unicodeScalars.contains(where: { CharacterSet.whitespacesAndNewlines.contains($0) || CharacterSet.controlCharacters.contains($0) }) else {
                throw TollgateError.invalidInput("\(what) '\(UpstreamError.sanitize(name, limit: 60))' is not a valid name")
            }
        }
        for name in toolScopes.keys { try checkName(name, "tool") }
        for name in methodScopes.keys { try checkName(name, "method") }
        for scope in namedScopes.sorted() where !known.contains(scope) {
            throw TollgateError.invalidInput("scope '\(UpstreamError.sanitize(scope, limit: 60))' is not one of the server's scopes ("
                                             + (serverScopes.isEmpty ? "it has none" : serverScopes.joined(separator: " ")) + ")")
        }
    }

    /// The rules on one line, for the audit log and the CLI: `tool write_file=files.write, method resources/read=files.read,
    /// files.write implies files.read`; `none` without rules.
    public var summary: String {
        var parts: [String] = []
        for (name, scopes) in toolScopes.sorted(by: { $0.key < $1.key }) { parts.append("tool \(name)=\(scopes.joined(separator: "+"))") }
        for (name, scopes) in methodScopes.sorted(by: { $0.key < $1.key }) { parts.append("method \(name)=\(scopes.joined(separator: "+"))") }
        for (scope, implied) in implies.sorted(by: { $0.key < $1.key }) { parts.append("\(scope) implies \(implied.joined(separator: "+"))") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

extension ScopeRules {
    /// The scope rules of a stored server policy (``ServerPolicy/json``), read on every validation: a policy
    /// without rules (the common case) is recognized without decoding. Throws `.damaged` for a policy with rules
    /// that does not decode, so a damaged row refuses calls rather than letting them through unchecked.
    public static func stored(inPolicyJSON json: String) throws -> ScopeRules {
        guard json.contains("\"scopeRules\"") else { return ScopeRules() }
        return try ServerPolicy(json: json).scopeRules
    }
}
