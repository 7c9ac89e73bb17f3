import Foundation
import Testing
import TollgateCore

/// The pure rules of step-up authorization: which scopes a call needs, the hierarchy, what a POSTed message
/// asks for and whether its headers agree, how grant scopes combine and what is asked upstream.
@Suite("scope rules")
struct ScopeRulesTests {
    let rules = ScopeRules(toolScopes: ["write_file": ["files.write"], "admin_purge": ["files.admin", "files.write"]],
                           methodScopes: ["resources/read": ["files.read"], "tools/call": ["files.use"]],
                           implies: ["files.admin": ["files.write"], "files.write": ["files.read"]])

    @Test func aCallNeedsItsMethodsScopesAndForToolsCallItsToolsScopes() {
        #expect(rules.requiredScopes(method: "tools/call", name: "write_file") == ["files.use", "files.write"])
        #expect(rules.requiredScopes(method: "tools/call", name: "admin_purge") == ["files.admin", "files.use", "files.write"])
        #expect(rules.requiredScopes(method: "tools/call", name: "read_file") == ["files.use"], "a tool without a rule: only the method's")
        #expect(rules.requiredScopes(method: "resources/read", name: "file:///a") == ["files.read"])
        #expect(rules.requiredScopes(method: "tools/list", name: nil) == [])
        // A tool rule applies to tools/call only, not to a prompt of the same name.
        #expect(rules.requiredScopes(method: "prompts/get", name: "write_file") == [])
    }

    @Test func theHierarchyIsTransitiveAndCyclesAreHarmless() {
        #expect(rules.closure(of: ["files.admin"]) == ["files.admin", "files.write", "files.read"])
        #expect(rules.missing(["files.read", "files.write"], granted: ["files.admin"]) == [])
        #expect(rules.missing(["files.write"], granted: ["files.read"]) == ["files.write"], "implication goes one way")
        #expect(rules.missing(["files.use", "files.write"], granted: []) == ["files.use", "files.write"])
        let cyclic = ScopeRules(implies: ["a": ["b"], "b": ["c"], "c": ["a"]])
        #expect(cyclic.closure(of: ["b"]) == ["a", "b", "c"])
        #expect(cyclic.missing(["d"], granted: ["a"]) == ["d"])
    }

    @Test func onlyCallRulesMakeTheGatewayLookAtBodies() {
        #expect(!ScopeRules().requiresScopes)
        #expect(!ScopeRules(implies: ["a": ["b"]]).requiresScopes, "a hierarchy alone checks nothing")
        #expect(ScopeRules(toolScopes: ["t": ["a"]]).requiresScopes)
        #expect(ScopeRules(methodScopes: ["m": ["a"]]).requiresScopes)
    }

    @Test func rulesMustNameTheServersScopesAndSaneNames() throws {
        try rules.validate(serverScopes: ["files.read", "files.write", "files.admin", "files.use"])
        #expect(throws: TollgateError.self) { try rules.validate(serverScopes: ["files.read", "files.write"]) }
        #expect(throws: TollgateError.self) { try ScopeRules(toolScopes: ["bad name": ["a"]]).validate(serverScopes: ["a"]) }
        #expect(throws: TollgateError.self) { try ScopeRules(methodScopes: ["": ["a"]]).validate(serverScopes: ["a"]) }
        #expect(throws: TollgateError.self) { try ScopeRules(implies: ["a": ["zz"]]).validate(serverScopes: ["a"]) }
        do {
            try ScopeRules(toolScopes: ["t": ["files.write"]]).validate(serverScopes: ["files.read"])
            Issue.record("an unknown scope must be refused")
        } catch let error as TollgateError {
            #expect(error.message.contains("files.write") && error.message.contains("files.read"), "\(error.message)")
        }
    }

    @Test func policiesWithoutRulesAreStoredAsBeforeAndOldDocumentsDecode() throws {
        #expect(ServerPolicy(allowedOrigins: ["https://a.example"]).json == #"{"allowedOrigins":["https:\/\/a.example"]}"#)
        let old = try ServerPolicy(json: #"{"allowedOrigins":["https://a.example"]}"#)
        #expect(old.scopeRules == ScopeRules())
        #expect(try ServerPolicy(json: "{}") == ServerPolicy())
        let withRules = ServerPolicy(scopeRules: rules)
        #expect(try ServerPolicy(json: withRules.json) == withRules)
        #expect(try ScopeRules.stored(inPolicyJSON: withRules.json) == rules)
        #expect(try ScopeRules.stored(inPolicyJSON: old.json) == ScopeRules())
        #expect(throws: TollgateError.self) { try ScopeRules.stored(inPolicyJSON: #"{"scopeRules":7}"#) }
    }

    @Test func aBodyIsReadForItsMethodAndName() throws {
        func call(_ json: String) throws(MCPCall.Refusal) -> MCPCall { try MCPCall(body: Data(json.utf8)) }
        let tool = try call(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_file","arguments":{"name":"x"}}}"#)
        #expect(tool == MCPCall(method: "tools/call", name: "write_file", id: .number(7)))
        #expect(try call(#"{"jsonrpc":"2.0","id":"a","method":"resources/read","params":{"uri":"file:///x"}}"#).name == "file:///x")
        #expect(try call(#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}"#).name == "p")
        #expect(try call(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#) == MCPCall(method: "tools/list", name: nil, id: .number(1)))
        #expect(try call(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).method == "notifications/initialized")
        #expect(try call(#"{"jsonrpc":"2.0","id":3,"result":{}}"#).method == nil, "a response to the server needs no scope")
        #expect(throws: MCPCall.Refusal.batch) { try call(#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#) }
        for bad in ["not json", "", "42", #"{"id":1,"method":"tools/list"}"#, #"{"jsonrpc":"2.0","id":1}"#,
                    #"{"jsonrpc":"2.0","id":1,"method":5}"#, #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
                    #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":3}}"#] {
            do throws(MCPCall.Refusal) {
                _ = try call(bad)
                Issue.record("\(bad) was taken for a message")
            } catch {
                #expect(error != .batch, "\(bad)")
            }
        }
    }

    /// JSONDecoder keeps the first of repeated members, the backend's JSON reader (Python's, JSONSerialization) the last:
    /// a body whose repeats disagree on what it calls is refused, not judged by one tool and run as another.
    @Test func aBodyThatRepeatsItsMethodOrNameWithDifferentValuesIsRefused() throws {
        func call(_ json: String) throws(MCPCall.Refusal) -> MCPCall { try MCPCall(body: Data(json.utf8)) }
        for smuggled in [#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","name":"delete_all"}}"#,
                         #"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_all"}}"#,
                         #"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///public","uri":"file:///secret"}}"#,
                         #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file"},"params":{"name":"delete_all"}}"#] {
            do throws(MCPCall.Refusal) {
                let read = try call(smuggled)
                Issue.record("\(smuggled) was read as \(read)")
            } catch {
                guard case .notJSONRPC(let why) = error else { Issue.record("\(error)"); continue }
                #expect(why.contains("repeats"), "\(why)")
            }
        }
        let agreeing = try call(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","name":"read_file"}}"#)
        #expect(agreeing.name == "read_file", "repeats that agree read the same to everyone")
        let elsewhere = try call(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":1,"a":2}}}"#)
        #expect(elsewhere.name == "t", "repeats inside the arguments decide no scope")
    }

    @Test func headersMustAgreeWithTheBody() {
        let call = MCPCall(method: "tools/call", name: "write_file")
        #expect(call.headerMismatch(methodHeader: nil, nameHeader: nil) == nil, "absent headers: the body decides")
        #expect(call.headerMismatch(methodHeader: "tools/call", nameHeader: "write_file") == nil)
        #expect(call.headerMismatch(methodHeader: "tools/call", nameHeader: "=?base64?d3JpdGVfZmlsZQ==?=") == nil, "sentinel decoded")
        let cheaper = call.headerMismatch(methodHeader: "tools/call", nameHeader: "read_file")
        #expect(cheaper == "Header mismatch: Mcp-Name header value 'read_file' does not match body value 'write_file'")
        #expect(call.headerMismatch(methodHeader: "tools/list", nameHeader: nil)?.contains("Mcp-Method") == true)
        #expect(call.headerMismatch(methodHeader: "Tools/Call", nameHeader: nil) != nil, "values are case-sensitive")
        #expect(call.headerMismatch(methodHeader: nil, nameHeader: "=?base64?!!!?=") != nil)
        #expect(MCPCall(method: "tools/list", name: nil).headerMismatch(methodHeader: nil, nameHeader: "x") != nil,
                "a name header on a call without a name")
    }

    @Test func grantScopesUniteAndOnlyASupersetExtends() {
        #expect(GrantScopes.union(["files.read", "openid"], ["files.write", "files.read"]) == ["files.read", "openid", "files.write"])
        #expect(GrantScopes.extends(["files.read"], with: ["files.read", "files.write"]))
        #expect(!GrantScopes.extends(["files.read"], with: ["files.read"]), "the same scopes: a grant of its own")
        #expect(!GrantScopes.extends(["files.read"], with: ["files.write"]), "other scopes: a grant of its own")
        #expect(!GrantScopes.extends(["files.read", "files.write"], with: ["files.read"]))
    }

    @Test func upstreamIsAskedForTheProvidersOwnScopesAndTheServerScopesItShares() {
        let provider = ["openid", "offline_access", "files.read", "files.write"]
        let server = ["files.read", "files.write", "files.local"]
        #expect(GrantScopes.upstream(for: ["files.read"], providerScopes: provider, serverScopes: server) == ["openid", "offline_access", "files.read"])
        #expect(GrantScopes.upstream(for: ["files.read", "files.write", "files.local"], providerScopes: provider, serverScopes: server)
                == provider, "files.local is Tollgate's own: never sent upstream")
        // Disjoint scopes (the common set-up): the provider's scopes, whatever is asked.
        #expect(GrantScopes.upstream(for: ["files.read"], providerScopes: ["openid", "offline_access"], serverScopes: ["files.read"])
                == ["openid", "offline_access"])
    }
}

extension ScopeRulesTests {
    @Test func clientsStartWithoutTheScopesOnlyToolsNeed() {
        let server = ["files.read", "files.write", "files.admin", "files.use"]
        #expect(rules.initialScopes(of: server) == ["files.read", "files.use"], "files.admin implies the tool-only files.write")
        #expect(ScopeRules().initialScopes(of: server) == server)
        // A scope a method rule needs is a starting scope even when a tool needs it too.
        let shared = ScopeRules(toolScopes: ["t": ["a"]], methodScopes: ["resources/read": ["a"]])
        #expect(shared.initialScopes(of: ["a", "b"]) == ["a", "b"])
    }
}
