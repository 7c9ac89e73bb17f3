import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A TCP connection to 127.0.0.1 that sends bytes exactly as given (no HTTP client to tidy them up) and
/// collects whatever the server answers until the server closes it.
final class RawConnection: Sendable {
    let channel: any Channel
    private let collector: Collector

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }
    }

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    static func open(port: Int) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// Everything received so far.
    var received: [UInt8] { collector.received.withLock { $0 } }

    /// Whether the server closed the connection.
    var isClosed: Bool { !channel.isActive }

    /// Waits until the server closes the connection, at most `seconds`; true if it did.
    func waitForServerClose(within seconds: Double) async -> Bool {
        let gaveUp = Mutex(false)
        let channel = channel
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
            gaveUp.withLock { $0 = true }
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        timer.cancel()
        return !gaveUp.withLock { $0 }
    }

    func close() async {
        try? await channel.close()
    }

    /// The status code of the first response received, if a status line arrived.
    var firstStatus: Int? { Self.status(of: received) }

    static func status(of bytes: [UInt8]) -> Int? {
        let text = String(decoding: bytes.prefix(64), as: UTF8.self)
        guard text.hasPrefix("HTTP/1.") else { return nil }
        let parts = text.split(separator: " ", maxSplits: 2)
        return parts.count >= 2 ? Int(parts[1]) : nil
    }

    /// The first response received: status, headers (names lowercased) and its `Content-Length` body.
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
    }

    var firstResponse: Response? {
        let bytes = received
        guard let status = Self.status(of: bytes), let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        var headers: [String: String] = [:]
        for line in String(decoding: bytes[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = headers["content-length"].flatMap(Int.init) ?? 0
        return Response(status: status, headers: headers, body: String(decoding: bytes[end.upperBound...].prefix(length), as: UTF8.self))
    }

    /// Sends one request with `Connection: close` on a new connection and returns the whole answer.
    static func exchange(port: Int, _ request: String, within seconds: Double = 10) async throws -> (status: Int?, response: String) {
        let connection = try await exchanged(port: port, request, within: seconds)
        return (connection.firstStatus, String(decoding: connection.received, as: UTF8.self))
    }

    /// The same, returning the connection (closed) to look at what it received.
    static func exchanged(port: Int, _ request: String, within seconds: Double = 10) async throws -> RawConnection {
        let connection = try await open(port: port)
        try await connection.send(request)
        _ = await connection.waitForServerClose(within: seconds)
        return connection
    }
}

/// A log handler that keeps every entry (level and message) for tests that look at log lines.
final class RecordingLogHandler: LogHandler, @unchecked Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        /// The entry's metadata, values as text.
        var fields: [String: String] = [:]
        /// Message and metadata in one line, for looking for what must never be logged.
        var line: String { ([message] + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ") }
    }
    private let entries = Mutex<[Entry]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.mapValues { "\($0)" }
        entries.withLock { $0.append(Entry(level: event.level, message: event.message.description, fields: fields)) }
    }

    /// The entries recorded so far.
    var recorded: [Entry] { entries.withLock { $0 } }

    /// A logger writing into `handler`.
    static func logger(_ handler: RecordingLogHandler, label: String = "test.recorded") -> Logger {
        Logger(label: label) { _ in handler }
    }
}
