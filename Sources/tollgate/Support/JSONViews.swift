import Foundation
import TollgateCore

/// A core value encoded with extra top-level keys beside its own (a grant with its computed status,
/// a client with its server's slug). The core types carry no secrets, so neither does this.
struct Annotated<Base: Encodable>: Encodable {
    let base: Base
    let extras: [String: any Encodable]

    func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
        var container = encoder.container(keyedBy: DynamicKey.self)
        for (key, value) in extras { try container.encode(value, forKey: DynamicKey(key)) }
    }
}

/// A coding key made from any string.
struct DynamicKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The JSON shapes of the CLI, built from core values.
enum JSONView {
    static func server(_ server: Server, provider: Provider?) -> Annotated<Server> {
        Annotated(base: server, extras: ["providerKind": provider?.kind.rawValue])
    }

    static func provider(_ provider: Provider, serverSlug: String) -> Annotated<Provider> {
        Annotated(base: provider, extras: ["serverSlug": serverSlug])
    }

    static func client(_ client: Client, serverSlug: String?) -> Annotated<Client> {
        Annotated(base: client, extras: ["serverSlug": serverSlug, "confidential": client.isConfidential, "clientID": client.publicID])
    }

    static func grant(_ grant: Grant, now: Date) -> Annotated<Grant> {
        Annotated(base: grant, extras: grantExtras(status: grant.status(at: now), refreshability: grant.refreshability))
    }

    static func grantDetail(_ detail: GrantDetail) -> Annotated<Grant> {
        var extras = grantExtras(status: detail.status, refreshability: detail.refreshability)
        extras["refreshHistory"] = detail.refreshHistory
        extras["events"] = detail.events
        extras["lastRefusals"] = detail.refusals
        extras["lastRefreshErrors"] = detail.refreshErrors
        return Annotated(base: detail.grant, extras: extras)
    }

    private static func grantExtras(status: GrantStatus, refreshability: Refreshability) -> [String: any Encodable] {
        var reason: String?
        if case .notRefreshable(let why) = refreshability { reason = why.rawValue }
        return ["status": status.rawValue, "refreshable": refreshability.isRefreshable, "notRefreshableReason": reason]
    }
}
