/// The console's views. Top-level views are switched with `:` commands; `detail` and `well-known` are
/// opened from a selection and closed with Esc.
public enum ViewKind: String, Sendable, CaseIterable, Hashable {
    case servers
    case providers
    case clients
    case grants
    case detail
    case wellKnown = "well-known"
    case audit

    /// The name in the title bar.
    public var title: String {
        switch self {
        case .servers: return "Servers"
        case .providers: return "Providers"
        case .clients: return "Clients"
        case .grants: return "Grants"
        case .detail: return "Grant"
        case .wellKnown: return "Well-known metadata"
        case .audit: return "Audit log"
        }
    }

    /// Views that list rows (a selection, a filter); the others show scrollable text.
    public var isList: Bool {
        switch self {
        case .servers, .providers, .clients, .grants, .audit: return true
        case .detail, .wellKnown: return false
        }
    }
}
