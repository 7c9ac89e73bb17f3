// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tollgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tollgate", targets: ["tollgate"]),
        .library(name: "TollgateCore", targets: ["TollgateCore"]),
        .library(name: "TollgateSQLite", targets: ["TollgateSQLite"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Already in the graph through async-http-client: outbound TLS trust roots (SSL_CERT_FILE).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
    ],
    targets: [
        // The shared core: everything every face does goes through it.
        .target(
            name: "TollgateCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The embedded default store: one SQLite file through GRDB.
        .target(
            name: "TollgateSQLite",
            dependencies: [
                "TollgateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Opens the store a --db location names (every backend).
        .target(
            name: "TollgateStores",
            dependencies: ["TollgateCore", "TollgateSQLite", "TollgatePostgres", .product(name: "Logging", package: "swift-log")]
        ),
        // The PostgreSQL store: several `serve` instances on one database.
        .target(
            name: "TollgatePostgres",
            dependencies: [
                "TollgateCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // HTTP face: OAuth endpoints, consent page, MCP gateway, metrics.
        .target(
            name: "TollgateServer",
            dependencies: [
                "TollgateCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Console state, reducer, renderer into a screen buffer, themes. No curses here.
        .target(
            name: "TollgateConsole",
            dependencies: ["TollgateCore"]
        ),
        // ncursesw through a module map and a shim header; only TollgateTerminal imports it.
        .systemLibrary(
            name: "CNcursesw",
            pkgConfig: "ncursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The thin terminal adapter: draws a screen buffer, reads keys.
        .target(
            name: "TollgateTerminal",
            dependencies: ["CNcursesw", "TollgateConsole"]
        ),
        .target(
            name: "TollgateDevUpstream",
            dependencies: [
                "TollgateCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "tollgate",
            dependencies: [
                "TollgateCore",
                "TollgateSQLite",
                "TollgateStores",
                "TollgateServer",
                "TollgateConsole",
                "TollgateTerminal",
                "TollgateDevUpstream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "TollgateBenchmarks",
            // TollgateTestSupport: fresh PostgreSQL databases, made as the tests make theirs.
            dependencies: ["TollgateCore", "TollgateSQLite", "TollgatePostgres", "TollgateStores", "TollgateConsole", "TollgateServer",
                           "TollgateTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks",
            exclude: ["gateway"]
        ),
        // Shared by the test targets: an isolated store + dev upstream, and a runner for the built binary.
        .target(
            name: "TollgateTestSupport",
            dependencies: [
                "TollgateCore",
                "TollgateSQLite",
                "TollgatePostgres",
                "TollgateStores",
                "TollgateDevUpstream",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TollgateTestSupport"
        ),
        .testTarget(
            name: "TollgateCoreTests",
            dependencies: [
                "TollgateCore",
                "TollgateSQLite",
                "TollgateStores",
                "TollgateDevUpstream",
                "TollgateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TollgateServerTests",
            dependencies: [
                "TollgateServer",
                "TollgateTestSupport",
                "TollgateCore",
                "TollgateSQLite",
                "TollgateStores",
                "TollgateDevUpstream",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // One conformance suite for every store backend (Tests/TollgateTestSupport/Conformance), plus SQLite's migrations.
        .testTarget(
            name: "TollgateStoreConformanceTests",
            dependencies: [
                "TollgateCore",
                "TollgateSQLite",
                "TollgateTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "TollgatePostgresTests",
            dependencies: [
                "TollgatePostgres",
                "TollgateCore",
                "TollgateTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TollgateConsoleTests",
            // The dev upstream: the end-to-end tests check that a forced refresh in the console reaches it.
            dependencies: ["TollgateConsole", "TollgateCore", "TollgateSQLite", "TollgateStores", "TollgateTerminal", "TollgateDevUpstream",
                           "TollgateTestSupport", .product(name: "Logging", package: "swift-log")],
            exclude: ["Snapshots"]
        ),
    ]
)
