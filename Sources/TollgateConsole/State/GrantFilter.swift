import TollgateCore

/// The grants filter typed after `/`: words are a subject prefix; `server:SLUG`, `client:ID` and
/// `status:STATUS` narrow further. Every part maps to an indexed condition of the core's grant listing.
public struct GrantFilter: Equatable, Sendable {
    /// Conditions of the listing: exact server and client, status, and the start of the subject.
    public var serverSlug: String?
    public var clientID: String?
    public var status: GrantStatus?
    public var subjectPrefix: String?

    /// A filter with these conditions.
    public init(serverSlug: String? = nil, clientID: String? = nil, status: GrantStatus? = nil, subjectPrefix: String? = nil) {
        self.serverSlug = serverSlug
        self.clientID = clientID
        self.status = status
        self.subjectPrefix = subjectPrefix
    }

    /// Whether nothing is filtered.
    public var isEmpty: Bool { self == GrantFilter() }

    /// Parses filter text; the error says what is wrong in words.
    public static func parse(_ text: String) -> Result<GrantFilter, FilterError> {
        var filter = GrantFilter()
        var words: [String] = []
        for token in text.split(separator: " ").map(String.init) {
            guard let colon = token.firstIndex(of: ":"), colon != token.startIndex else {
                words.append(token)
                continue
            }
            let key = token[..<colon].lowercased()
            let value = String(token[token.index(after: colon)...])
            guard !value.isEmpty else { return .failure(FilterError(message: "'\(key):' needs a value")) }
            switch key {
            case "server": filter.serverSlug = value
            case "client": filter.clientID = value
            case "subject": words.append(value)
            case "status":
                guard let status = GrantStatus(rawValue: value.lowercased()) else {
                    return .failure(FilterError(message: "unknown status '\(value)' (\(GrantStatus.allCases.map(\.rawValue).joined(separator: ", ")))"))
                }
                filter.status = status
            default:
                words.append(token)
            }
        }
        if !words.isEmpty { filter.subjectPrefix = words.joined(separator: " ") }
        return .success(filter)
    }

    /// Sets the query's conditions from this filter.
    public func apply(to query: inout GrantQuery) {
        query.serverSlug = serverSlug
        query.clientID = clientID
        query.status = status
        query.subjectPrefix = subjectPrefix
    }
}

/// Why filter text was not understood.
public struct FilterError: Error, Equatable, Sendable {
    /// What is wrong, in words.
    public var message: String
}
