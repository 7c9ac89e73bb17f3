import Foundation

/// How the scopes of a grant combine: the union a re-authorization extends a grant to, and the scopes the
/// upstream authorization request asks for.
public enum GrantScopes {
    /// `first` followed by the scopes of `second` it lacks, without repeats: the order of `first` is kept.
    public static func union(_ first: [String], _ second: [String]) -> [String] {
        var seen = Set<String>()
        return (first + second).filter { seen.insert($0).inserted }
    }

    /// Whether an authorization of `requested` extends a grant of `granted` (rather than creating another): it
    /// asks for everything the grant has and more. A re-authorization for the same or fewer scopes, or for other
    /// ones, creates a grant of its own, so a grant never ends up with an upstream credential asked for less.
    public static func extends(_ granted: [String], with requested: [String]) -> Bool {
        let have = Set(granted), asked = Set(requested)
        return have.isSubset(of: asked) && have != asked
    }

    /// The scopes the upstream authorization request asks for, for an authorization of `scopes` (proxy scopes).
    ///
    /// The provider's scopes are the upstream's vocabulary. Those that are not also server scopes (`openid`,
    /// `offline_access`, …) are what Tollgate itself needs and are always asked for; a provider scope that is also
    /// a server scope is an upstream permission the MCP server relies on, asked for only when the authorization
    /// carries it. So a step-up to `files.write` asks the upstream for `files.write` too, when the provider lists
    /// it; a server scope the provider does not list is Tollgate's alone and never sent upstream.
    public static func upstream(for scopes: [String], providerScopes: [String], serverScopes: [String]) -> [String] {
        let server = Set(serverScopes), asked = Set(scopes)
        return providerScopes.filter { !server.contains($0) || asked.contains($0) }
    }
}
