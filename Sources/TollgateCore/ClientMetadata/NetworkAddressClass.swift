import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What kind of network an IP address belongs to, for deciding whether Tollgate may fetch from it (SSRF defence).
///
/// Only ``public`` addresses are fetched; ``loopback`` ones too when the development switch
/// `--client-metadata-allow-loopback` is on. Every other class is always refused.
public enum NetworkAddressClass: String, Sendable, Equatable, CaseIterable {
    /// A globally routable unicast address.
    case `public`
    /// 127.0.0.0/8, ::1.
    case loopback
    /// RFC 1918 (10/8, 172.16/12, 192.168/16) and deprecated IPv6 site-local fec0::/10.
    case `private`
    /// 169.254.0.0/16, fe80::/10.
    case linkLocal = "link-local"
    /// Carrier-grade NAT, 100.64.0.0/10 (RFC 6598).
    case sharedAddressSpace = "cgnat"
    /// fc00::/7 (RFC 4193).
    case uniqueLocal = "unique-local"
    /// 224.0.0.0/4, ff00::/8.
    case multicast
    /// 0.0.0.0/8, ::.
    case unspecified
    /// Cloud instance metadata services: 169.254.169.254, fd00:ec2::254.
    case cloudMetadata = "cloud-metadata"
    /// Documentation, benchmarking, protocol-assignment, discard, 240/4 and broadcast ranges: never a real server.
    /// Also NAT64 local-use 64:ff9b:1::/48, whose embedded IPv4 address cannot be located.
    case reserved

    /// Classifies a numeric IPv4 or IPv6 address (an IPv6 literal with or without brackets); `nil` when `text` is
    /// not one. IPv4 addresses embedded in IPv6 (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64
    /// `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) are classified by the IPv4 address they carry (Teredo:
    /// by its client's and its server's); NAT64 local-use `64:ff9b:1::/48` is ``reserved``.
    public static func classify(_ text: String) -> NetworkAddressClass? {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let v4 = ipv4Bytes(text) { return classify(v4: v4) }
        if let v6 = ipv6Bytes(text) { return classify(v6: v6) }
        return nil
    }

    /// Whether an address of this class may be fetched from.
    public func isFetchable(allowLoopback: Bool) -> Bool {
        switch self {
        case .public: return true
        case .loopback: return allowLoopback
        default: return false
        }
    }

    static func classify(v4 b: [UInt8]) -> NetworkAddressClass {
        switch (b[0], b[1]) {
        case (0, _): return .unspecified
        case (10, _): return .private
        case (127, _): return .loopback
        case (169, 254): return b[2] == 169 && b[3] == 254 ? .cloudMetadata : .linkLocal
        case (172, 16...31), (192, 168): return .private
        case (100, 64...127): return .sharedAddressSpace
        case (192, 0) where b[2] == 0 || b[2] == 2: return .reserved
        case (198, 18...19): return .reserved
        case (198, 51) where b[2] == 100: return .reserved
        case (203, 0) where b[2] == 113: return .reserved
        case (224...239, _): return .multicast
        case (240...255, _): return .reserved
        default: return .public
        }
    }

    static func classify(v6 b: [UInt8]) -> NetworkAddressClass {
        let metadata: [UInt8] = [0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]
        if b == metadata { return .cloudMetadata }
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return classify(v4: Array(b[12..<16])) }
        // IPv4-translated ::ffff:0:0:0/96 (RFC 2765 SIIT): a translator delivers it to the IPv4 address in the last 32 bits.
        if b[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0] { return classify(v4: Array(b[12..<16])) }
        if b[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] { return classify(v4: Array(b[12..<16])) }
        // NAT64 local-use 64:ff9b:1::/48 (RFC 8215) is refused, not judged: the operator picks the prefix length (/48 to
        // /96) and RFC 6052 puts the IPv4 address in a different place for each, so the same address can say 8.8.8.8
        // in its last 32 bits and 127.0.0.1 where a /48 translator reads it.
        if b[0..<6] == [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] { return .reserved }
        if b[0] == 0x20, b[1] == 0x02 { return classify(v4: Array(b[2..<6])) }
        // Teredo 2001::/32 (RFC 4380): both IPv4 addresses sit at fixed places, so both are judged. Packets go by the
        // server (bits 32-63) or a relay to the client (the last 32 bits, inverted), the client's class first.
        if b[0..<4] == [0x20, 0x01, 0x00, 0x00] {
            let client = classify(v4: b[12..<16].map { ~$0 })
            return client == .public ? classify(v4: Array(b[4..<8])) : client
        }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return .reserved }                    // IPv4-compatible (deprecated)
        if b[0] == 0xff { return .multicast }
        if b[0] & 0xfe == 0xfc { return .uniqueLocal }
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return .linkLocal }
        if b[0] == 0xfe, b[1] & 0xc0 == 0xc0 { return .private }                     // site-local (deprecated)
        if b[0..<4] == [0x20, 0x01, 0x0d, 0xb8] { return .reserved }                  // documentation
        if b[0..<8] == [0x01, 0x00, 0, 0, 0, 0, 0, 0] { return .reserved }            // discard-only
        return .public
    }

    /// The four bytes of a dotted-quad IPv4 address (exactly four decimal parts, as `inet_pton` demands).
    static func ipv4Bytes(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// The sixteen bytes of an IPv6 address (no zone index).
    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}
