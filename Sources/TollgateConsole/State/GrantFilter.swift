import TollgateCore

/// The grants filter typed after `/`: words are a subject prefix; the ``Key`` terms (`server:SLUG`,
/// `client:ID`, `status:STATUS`, `subject:PREFIX`) narrow further. Every part maps to an indexed condition
/// of the core's grant listing.
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
            let name = token[..<colon].lowercased()
            let value = String(token[token.index(after: colon)...])
            guard !value.isEmpty else { return .failure(FilterError(message: "'\(name):' needs a value")) }
            guard let key = Key(rawValue: name) else {
                words.append(token)
                continue
            }
            switch key {
            case .server: filter.serverSlug = value
            case .client: filter.clientID = value
            case .subject: words.append(value)
            case .status:
                guard let status = GrantStatus(rawValue: value.lowercased()) else {
                    return .failure(FilterError(message: "unknown status '\(value)' (\(GrantStatus.allCases.map(\.rawValue).joined(separator: ", ")))"))
                }
                filter.status = status
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

extension GrantFilter {
    /// A `key:VALUE` term of the filter text; ``GrantFilter/parse(_:)`` accepts exactly these and the help lists them.
    public enum Key: String, CaseIterable, Sendable {
        case server, client, status, subject

        /// What the value is, as the help writes it: `server:SLUG`.
        public var synopsis: String {
            switch self {
            case .server: return "server:SLUG"
            case .client: return "client:ID"
            case .status: return "status:STATUS"
            case .subject: return "subject:PREFIX"
            }
        }

        /// What the term keeps, in one line.
        public var summary: String {
            switch self {
            case .server: return "the grants of that server only"
            case .client: return "the grants of that client id only"
            case .status: return "one status: " + GrantStatus.allCases.map(\.rawValue).joined(separator: ", ")
            case .subject: return "subjects starting with PREFIX, as bare words do"
            }
        }
    }
}

/// Why filter text was not understood.
public struct FilterError: Error, Equatable, Sendable {
    /// What is wrong, in words.
    public var message: String
}
