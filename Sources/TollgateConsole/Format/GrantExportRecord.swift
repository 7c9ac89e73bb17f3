import Foundation
import TollgateCore

/// One grant as `:export` writes it: metadata only (never a token, a hash or a ciphertext), the same columns in
/// CSV and JSON.
public struct GrantExportRecord: Encodable, Sendable, Equatable {
    public var id: Int64
    public var server: String
    public var clientID: String
    public var clientName: String
    public var subject: String?
    public var status: String
    public var scopes: String
    public var resource: String
    public var proxyAccessExpiresAt: Date?
    public var upstreamAccessExpiresAt: Date?
    public var upstreamRefreshToken: Bool
    public var lastRefreshAt: Date?
    public var lastRefreshOutcome: String?
    public var createdAt: Date
    public var revokedAt: Date?

    /// The record of `grant`, its status at `now`.
    public init(_ grant: Grant, now: Date) {
        id = grant.id
        server = grant.serverSlug
        clientID = grant.clientID
        clientName = grant.clientName
        subject = grant.subject
        status = grant.status(at: now).rawValue
        scopes = grant.scopes.joined(separator: " ")
        resource = grant.resource
        proxyAccessExpiresAt = GrantText.proxyExpiry(grant)
        upstreamAccessExpiresAt = grant.upstream.accessExpiresAt
        upstreamRefreshToken = grant.upstream.hasRefreshToken
        lastRefreshAt = grant.lastRefreshAt
        lastRefreshOutcome = grant.lastRefreshOutcome?.rawValue
        createdAt = grant.createdAt
        revokedAt = grant.revokedAt
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, server, clientID = "client_id", clientName = "client_name", subject, status, scopes, resource
        case proxyAccessExpiresAt = "proxy_access_expires_at", upstreamAccessExpiresAt = "upstream_access_expires_at"
        case upstreamRefreshToken = "upstream_refresh_token", lastRefreshAt = "last_refresh_at"
        case lastRefreshOutcome = "last_refresh_outcome", createdAt = "created_at", revokedAt = "revoked_at"
    }

    /// The CSV header line (RFC 4180: CRLF line ends).
    public static let csvHeader = CodingKeys.allCases.map(\.rawValue).joined(separator: ",") + "\r\n"

    /// This record as a CSV line: times in ISO 8601 UTC, empty for none; fields quoted where RFC 4180 needs it.
    public var csvLine: String {
        func time(_ date: Date?) -> String { date.map { Self.iso.string(from: $0) } ?? "" }
        let fields = [String(id), server, clientID, clientName, subject ?? "", status, scopes, resource,
                      time(proxyAccessExpiresAt), time(upstreamAccessExpiresAt), upstreamRefreshToken ? "yes" : "no",
                      time(lastRefreshAt), lastRefreshOutcome ?? "", time(createdAt), time(revokedAt)]
        return fields.map(Self.csvField).joined(separator: ",") + "\r\n"
    }

    /// A CSV field: quoted (with inner quotes doubled) when it holds a comma, a quote, a line break or edge spaces.
    /// A field that a spreadsheet would run as a formula (it starts with one of ``formulaLeads``) gets a `'` in front
    /// and is quoted, as OWASP recommends against CSV injection: a client named `=HYPERLINK(…)` stays text.
    public static func csvField(_ text: String) -> String {
        // The first scalar, not the first Character: "\r\n" and "=" followed by a combining mark are one Character.
        let formula = text.unicodeScalars.first.map(formulaLeads.contains) ?? false
        let cell = formula ? "'" + text : text
        let needsQuotes = formula || cell.contains { $0 == "," || $0 == "\"" || $0.isNewline } || cell.hasPrefix(" ") || cell.hasSuffix(" ")
        return needsQuotes ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }

    /// The first characters that make a spreadsheet read a cell as a formula: `=`, `+`, `-`, `@`, TAB and CR.
    static let formulaLeads: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    nonisolated(unsafe) static let iso: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
}
