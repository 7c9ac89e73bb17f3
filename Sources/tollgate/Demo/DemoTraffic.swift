import Foundation
import TollgateCore
import TollgateDevUpstream

/// One simulated user's MCP client session in the demo: the proxy tokens it holds for one server.
struct DemoSession: Sendable {
    let user: String
    let serverSlug: String
    let clientID: String
    var accessToken: String
    var refreshToken: String
}

/// The demo's living traffic: while the console is open, simulated MCP clients keep calling tools through the
/// gateway, now and then refresh their proxy tokens at the token endpoint, and one user's upstream authorization is
/// revoked at the provider early on, so the first minute shows countdowns resetting, refreshes arriving in the audit
/// log and a user whose requests start failing (the support desk's "since this morning I'm not authorized").
///
/// Every step goes through Tollgate's real HTTP endpoints, exactly as an MCP client's would.
struct DemoTraffic: Sendable {
    /// The plan the traffic follows, with its timings (short in the demo, shorter in tests).
    struct Schedule: Sendable {
        /// The pause between two gateway calls.
        var tick: Duration = .milliseconds(1500)
        /// Every this many ticks a session refreshes its proxy tokens at the token endpoint.
        var refreshEvery = 7
        /// The tick at which the provider revokes ``victim``'s upstream authorization.
        var revokeAtTick = 4
        /// The user whose upstream authorization the provider revokes; their calls are made every other tick, so the
        /// failure shows quickly.
        var victim = "erin"
        /// The upstream access token lifetime the provider issues while the traffic runs (refreshed tokens expire
        /// again soon, so countdowns keep resetting).
        var upstreamAccessTTL = 45
    }

    let client: SimulatedMCPClient
    let upstream: DevUpstreamState
    let schedule: Schedule
    let log: @Sendable (String) -> Void

    /// Runs until the task is cancelled.
    func run(_ sessions: [DemoSession]) async {
        guard !sessions.isEmpty else { return }
        var sessions = sessions
        await upstream.update { [ttl = schedule.upstreamAccessTTL] in $0.accessTTL = ttl }
        let victims = sessions.indices.filter { sessions[$0].user == schedule.victim }
        var next = 0
        var tick = 0
        while !Task.isCancelled {
            tick += 1
            if tick == schedule.revokeAtTick, !victims.isEmpty {
                await upstream.revokeAll(subject: schedule.victim)
                log("the provider revoked \(schedule.victim)'s upstream authorization: their next refresh fails")
            }
            let index: Int
            if !victims.isEmpty, tick % 2 == 0 {
                index = victims[(tick / 2) % victims.count]
            } else {
                index = next
                next = (next + 1) % sessions.count
            }
            await step(&sessions[index], refreshing: tick % schedule.refreshEvery == 0)
            do { try await Task.sleep(for: schedule.tick) } catch { return }
        }
    }

    /// One call through the gateway, or a proxy token refresh followed by a call with the new token.
    private func step(_ session: inout DemoSession, refreshing: Bool) async {
        if refreshing, let pair = try? await client.refresh(serverSlug: session.serverSlug, clientID: session.clientID,
                                                            refreshToken: session.refreshToken) {
            session.accessToken = pair.access
            session.refreshToken = pair.refresh
        }
        _ = try? await client.callTool(serverSlug: session.serverSlug, accessToken: session.accessToken)
    }
}
