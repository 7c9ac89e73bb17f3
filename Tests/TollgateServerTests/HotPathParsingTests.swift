import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import TollgateServer

/// The hand-written pieces of the per-request path (written to avoid Foundation's cost there) must agree
/// with what they replaced.
@Suite struct HotPathParsingTests {
    @Test(arguments: [
        [:],
        ["error": "invalid_token"],
        ["error": "invalid_token", "error_description": "the access token has expired"],
        ["b": "quote \" backslash \\ slash / newline \n tab \t cr \r bell \u{07} nul \u{00} unit \u{1F}", "a": "é ünïcødé 🚀 \u{2028}"],
        ["": "", "z": "{}[]:,"],
    ])
    func flatJSONMatchesJSONSerialization(_ object: [String: String]) throws {
        let ours = Responses.flatJSON(object)
        let parsed = try JSONSerialization.jsonObject(with: Data(ours.utf8)) as? [String: String]
        #expect(parsed == object)
        let reference = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        #expect(ours == String(decoding: reference, as: UTF8.self))
    }

    func bearer(_ header: String?) -> String? {
        var headers = HTTPFields()
        if let header { headers[.authorization] = header }
        return Request(head: HTTPRequest(method: .post, scheme: "http", authority: "x", path: "/mcp/a", headerFields: headers),
                       body: RequestBody(buffer: ByteBuffer())).bearerToken
    }

    @Test func bearerTokenParsing() {
        #expect(bearer("Bearer tg_at_abc") == "tg_at_abc")
        #expect(bearer("bearer tg_at_abc") == "tg_at_abc")
        #expect(bearer("BEARER   tg_at_abc \t") == "tg_at_abc")
        #expect(bearer(nil) == nil)
        #expect(bearer("") == nil)
        #expect(bearer("Bearer") == nil)
        #expect(bearer("Bearer ") == nil)
        #expect(bearer("Bearer    ") == nil)
        #expect(bearer("Bearertg_at_abc") == nil)
        #expect(bearer("Basic dXNlcjpwYXNz") == nil)
        #expect(bearer("Bearxr tg_at_abc") == nil)
        #expect(bearer("DPoP tg_at_abc") == nil)
    }

    @Test func connectionOptions() {
        #expect(GatewayForwarder.connectionOptions(nil).isEmpty)
        #expect(GatewayForwarder.connectionOptions("").isEmpty)
        #expect(GatewayForwarder.connectionOptions("keep-alive") == ["keep-alive"])
        #expect(GatewayForwarder.connectionOptions(" Keep-Alive , X-Private-Hop,, close ") == ["keep-alive", "x-private-hop", "close"])
    }
}

/// A forwarded request's head waits for its body (one write, one segment); bodiless and streamed requests
/// are flushed as before.
@Suite struct RequestHeadFlushHolderTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        try channel.pipeline.syncOperations.addHandler(RequestHeadFlushHolder())
        return channel
    }

    func head(_ headers: HTTPHeaders) -> HTTPClientRequestPart {
        .head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/mcp", headers: headers))
    }

    @Test func aHeadWithABodyLeavesWithTheBody() throws {
        let channel = try channel()
        channel.write(head(["Host": "x", "Content-Length": "5"]), promise: nil)
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "the head waits for its body")
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "hello"))), promise: nil)
        channel.flush()
        let head = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: head).hasPrefix("POST /mcp HTTP/1.1\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "hello")
        _ = try channel.finish()
    }

    @Test func bodilessHeadsAndLaterPartsFlushAtOnce() throws {
        let channel = try channel()
        channel.write(head(["Host": "x"]), promise: nil)
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil, "no body declared: flushed")
        channel.write(head(["Host": "x", "Transfer-Encoding": "chunked"]), promise: nil)
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil, "a streamed body: the head goes at once")
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "chunk"))), promise: nil)
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil, "body chunks are flushed as written")
        _ = try channel.finish()
    }
}
