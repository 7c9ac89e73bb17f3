import Testing
import TollgateCore

@Suite("network address classes (SSRF)")
struct NetworkAddressClassTests {
    @Test(arguments: [
        ("8.8.8.8", NetworkAddressClass.public), ("2606:4700::1111", .public), ("[2a00:1450::1]", .public),
        ("127.0.0.1", .loopback), ("127.255.0.9", .loopback), ("::1", .loopback), ("[::1]", .loopback),
        ("10.1.2.3", .private), ("172.16.0.1", .private), ("172.31.255.255", .private), ("192.168.0.1", .private),
        ("fec0::1", .private), ("172.32.0.1", .public), ("169.254.1.1", .linkLocal), ("fe80::1", .linkLocal),
        ("100.64.0.1", .sharedAddressSpace), ("100.127.255.254", .sharedAddressSpace), ("100.128.0.1", .public),
        ("fc00::1", .uniqueLocal), ("fd12::1", .uniqueLocal), ("224.0.0.1", .multicast), ("ff02::1", .multicast),
        ("0.0.0.0", .unspecified), ("0.1.2.3", .unspecified), ("::", .unspecified),
        ("169.254.169.254", .cloudMetadata), ("fd00:ec2::254", .cloudMetadata),
        ("::ffff:127.0.0.1", .loopback), ("::ffff:169.254.169.254", .cloudMetadata), ("::ffff:8.8.8.8", .public),
        ("64:ff9b::a00:1", .private), ("2002:a00:1::", .private), ("2001:db8::1", .reserved), ("192.0.2.1", .reserved),
        ("198.18.0.1", .reserved), ("240.0.0.1", .reserved), ("255.255.255.255", .reserved), ("::a00:1", .reserved),
    ])
    func classify(_ address: String, _ expected: NetworkAddressClass) {
        #expect(NetworkAddressClass.classify(address) == expected, "\(address)")
    }

    /// IPv6 addresses that carry an IPv4 address: every spelling is judged by the IPv4 address it reaches, or
    /// refused where that address cannot be located.
    @Test(arguments: [
        // IPv4-translated ::ffff:0:0:0/96 (RFC 2765 SIIT): the last 32 bits.
        // Catches the ::ffff:0:0:0/96 condition left out (each was .public) or answering one class for all (8.8.8.8 stays public).
        ("::ffff:0:127.0.0.1", NetworkAddressClass.loopback), ("::ffff:0:7f00:1", .loopback), ("[::FFFF:0:7F00:1]", .loopback),
        ("0:0:0:0:ffff:0:7f00:1", .loopback), ("::ffff:0:a9fe:a9fe", .cloudMetadata), ("::ffff:0:10.0.0.1", .private),
        ("::ffff:0:0.0.0.0", .unspecified), ("::ffff:0:8.8.8.8", .public),
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the last 32 bits.
        ("64:ff9b::127.0.0.1", .loopback), ("64:ff9b::7f00:1", .loopback), ("64:ff9b::808:808", .public),
        // NAT64 local-use 64:ff9b:1::/48 (RFC 8215): the operator picks the prefix length, so where the IPv4 address
        // sits is unknown (this one carries 8.8.8.8 at the end and 127.0.0.1 where a /48 prefix puts it): refused.
        // Catches judging 64:ff9b:1::/48 by its last 32 bits instead of refusing it (the 808:808 rows would be .public).
        ("64:ff9b:1::a00:1", .reserved), ("64:ff9b:1::7f00:1", .reserved), ("64:ff9b:1::808:808", .reserved),
        ("64:ff9b:1:7f00:0:100:808:808", .reserved), ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", .reserved),
        // Teredo 2001::/32 (RFC 4380): server IPv4 in bits 32-63, client IPv4 inverted in the last 32 bits; both judged.
        // Catches judging the client only (server 127.0.0.1 / 10.0.0.1 rows), the client not inverted, or a 2001::/16 match.
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", .reserved),                 // RFC 4380's example: client 192.0.2.45
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", .public), ("2001::4136:e378:8000:63bf:f7f7:f7f7", .public),
        ("2001:0000:4136:E378:8000:63BF:F7F7:F7F7", .public),                // server 65.54.227.120, client 8.8.8.8
        ("2001:0:4136:e378::80ff:fffe", .loopback), ("2001:0:4136:e378:8000:63bf:80ff:fffe", .loopback), // client 127.0.0.1
        ("2001:0:4136:e378::5601:5601", .cloudMetadata), ("2001:0:4136:e378::f5ff:fffe", .private),
        ("2001:0:4136:e378::ffff:ffff", .unspecified),                        // client 0.0.0.0
        ("2001:0:7f00:1::f7f7:f7f7", .loopback), ("2001:0:a00:1:8000:63bf:f7f7:f7f7", .private), // server 127.0.0.1, 10.0.0.1
        ("2001::", .reserved),                                                // client 255.255.255.255 (judged first)
        // A public neighbour outside 2001::/32.
        ("2001:4860:4860::8888", .public),
    ])
    func classifyEmbeddedIPv4(_ address: String, _ expected: NetworkAddressClass) {
        #expect(NetworkAddressClass.classify(address) == expected, "\(address)")
    }

    @Test func onlyPublicAddressesAreFetchedAndLoopbackOnlyWithTheSwitch() {
        for kind in NetworkAddressClass.allCases {
            #expect(kind.isFetchable(allowLoopback: false) == (kind == .public), "\(kind)")
            #expect(kind.isFetchable(allowLoopback: true) == (kind == .public || kind == .loopback), "\(kind)")
        }
        for notAnAddress in ["localhost", "1.2.3", "01.2.3.4x", "::g", "", "example.com"] {
            #expect(NetworkAddressClass.classify(notAnAddress) == nil, "\(notAnAddress)")
        }
    }
}
