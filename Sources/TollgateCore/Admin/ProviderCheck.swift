import Foundation

/// What `tollgate provider check` found about a provider: one finding per thing checked, without any user.
public struct ProviderCheck: Sendable, Equatable {
    /// One thing checked and what came of it.
    public struct Finding: Sendable, Equatable {
        /// What was checked: `discovery`, `token endpoint`, `client credentials`.
        public var subject: String
        /// Whether it is as it should be.
        public var ok: Bool
        /// One line saying what was seen (never a secret).
        public var detail: String
    }

    public var findings: [Finding]

    /// Whether every finding is fine.
    public var ok: Bool { findings.allSatisfy(\.ok) }
}

extension AdminService {
    /// Proves a provider's stored configuration without a user (issue: a rotated or wrong secret used to surface only
    /// when a user's refresh failed):
    /// - for an `oidc` provider, its discovery document still answers and names the same issuer and token endpoint;
    /// - the token endpoint answers at all;
    /// - the stored client credentials are accepted: a refresh with a well-formed but unknown refresh token is refused
    ///   as a dead grant (`invalid_grant`: the client authenticated) or as a refused client (`invalid_client`). A
    ///   provider that answers both with the same code-less 400 (Glewlwyd does) cannot be told apart; that is said.
    public func checkProvider(serverSlug: String) async throws -> ProviderCheck {
        let provider = try await provider(serverSlug: serverSlug)
        var findings: [ProviderCheck.Finding] = []
        if provider.kind == .oidc, let issuer = provider.issuer {
            do {
                let resolved = try await upstream.discover(issuer: issuer)
                let same = resolved.tokenEndpoint == provider.tokenEndpoint
                findings.append(.init(subject: "discovery", ok: same, detail: same
                    ? "\(issuer) answers with the same issuer and token endpoint"
                    : "\(issuer) now names the token endpoint \(resolved.tokenEndpoint), not \(provider.tokenEndpoint)"))
            } catch let error as UpstreamError {
                findings.append(.init(subject: "discovery", ok: false, detail: error.message))
            }
        }
        let access = ProviderAccess(provider: provider, clientSecret: try await vault.openProviderSecret(of: provider, in: store))
        let probe = Secret("tollgate-provider-check-" + TokenGenerator.make(prefix: "").value)
        do {
            _ = try await upstream.refresh(probe, with: access)
            findings.append(.init(subject: "client credentials", ok: false,
                                  detail: "the token endpoint accepted a refresh token that does not exist; is it the right endpoint?"))
        } catch let error as UpstreamError {
            let endpoint = ProviderCheck.Finding(subject: "token endpoint", ok: error.httpStatus != nil,
                                                 detail: error.httpStatus.map { "\(provider.tokenEndpoint) answers (HTTP \($0))" }
                                                     ?? "\(provider.tokenEndpoint): \(error.message)")
            findings.append(endpoint)
            guard error.httpStatus != nil else { return ProviderCheck(findings: findings) }
            switch error.kind {
            case .invalidGrant where error.upstreamCode == nil:
                findings.append(.init(subject: "client credentials", ok: true, detail:
                    "not proven: the provider answers an unknown refresh token with HTTP \(error.httpStatus ?? 0) and no error code, "
                    + "as it may answer a wrong secret"))
            case .invalidGrant:
                findings.append(.init(subject: "client credentials", ok: true,
                                      detail: "accepted (an unknown refresh token was refused as \(error.upstreamCode ?? "invalid_grant"))"))
            case .misconfigured:
                findings.append(.init(subject: "client credentials", ok: false, detail: "refused: \(error.message)"))
            case .transient:
                findings.append(.init(subject: "client credentials", ok: false, detail: "not checked, the provider answered: \(error.message)"))
            }
        }
        return ProviderCheck(findings: findings)
    }
}
