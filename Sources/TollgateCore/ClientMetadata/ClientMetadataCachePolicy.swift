import Foundation

/// How long a fetched, valid client ID metadata document is reused before it is fetched again.
///
/// `Cache-Control: max-age=N` is honoured within [``minimum``, ``maximum``]; `no-store` or `no-cache` get the
/// shortest lifetime (the document still serves the burst of requests of one authorization); without a usable
/// directive, ``default``. Failures and invalid documents are never cached.
public enum ClientMetadataCachePolicy {
    public static let minimum: TimeInterval = 60
    public static let maximum: TimeInterval = 86_400
    public static let `default`: TimeInterval = 300

    /// The lifetime the `Cache-Control` header value `header` grants.
    public static func lifetime(cacheControl header: String?) -> TimeInterval {
        guard let header else { return self.default }
        var maxAge: TimeInterval?
        for directive in header.split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            switch parts.first {
            case "no-store", "no-cache":
                return minimum
            case "max-age" where parts.count == 2:
                let value = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard value.allSatisfy(\.isNumber), let seconds = Double(value.prefix(12)) else { continue }
                maxAge = maxAge ?? seconds
            default:
                continue
            }
        }
        return min(maximum, max(minimum, maxAge ?? self.default))
    }
}
