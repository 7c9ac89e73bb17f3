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
