import Pipeline
import Foundation
import SMTP
import Testing

/// SMTP inside a SOCKS or HTTP CONNECT tunnel, found by content on the proxy's port.
@Suite struct ProxyTunnelTests {
    @Test(arguments: [
        ("socks5-proxy.pcap", ProxyTunnel.Kind.socks5, "192.0.2.1:1080"),
        ("socks4-proxy.pcap", .socks4, "192.0.2.1:1080"),
        ("http-connect-proxy.pcap", .httpConnect, "192.0.2.1:8888"),
    ])
    func labCaptureThroughAProxy(capture: String, kind: ProxyTunnel.Kind, proxy: String) throws {
        let (r, _) = analyze([capturesDir.appendingPathComponent(capture).path])
        #expect(r.sessions.count == 1)
        let s = try #require(r.sessions.first)
        #expect(s.server.description == proxy)
        #expect(s.proxy == ProxyTunnel(kind: kind, target: "198.51.100.25:25"))
        #expect(s.banner?.code == 220)
        #expect(s.anomalies.isEmpty)
        // The greeting keeps its own packet's time: before the EHLO, after the session began.
        let greeting = try #require(s.timeline.first)
        let ehlo = try #require(s.timeline.first { if case .command = $0.kind { return true } else { return false } })
        #expect(greeting.time > s.start)
        #expect(greeting.time < ehlo.time)
        let t = try #require(r.transactions(of: s).first)
        #expect(t.outcome == .queued)
        #expect(t.messageComplete)
    }

    /// SOCKS 5 with username/password to a host name, the handshake split over segments and its
    /// reply sharing a segment with the greeting, on a port nobody configured.
    @Test func builtSocks5WithAuthentication() throws {
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40002, serverPort: 1080)
        c.open(&b)
        c.client(&b, [5, 2, 0, 2])
        c.server(&b, [5, 2])
        c.client(&b, [1, 5] + Array("al".utf8))
        c.client(&b, Array("ice".utf8) + [6] + Array("secret".utf8))
        c.server(&b, [1, 0])
        c.client(&b, [5, 1, 0, 3, 14] + Array("mx.example".utf8))
        c.client(&b, Array(".org".utf8) + [0, 25])
        c.server(&b, [5, 0, 0, 1, 192, 0, 2, 1, 0xa2, 0x1c] + Array("220 mx ESMTP\r\n".utf8))
        c.client(&b, Array("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n".utf8))
        c.server(&b, Array("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n".utf8))
        c.client(&b, Array("Subject: s\r\n\r\nhi\r\n.\r\n".utf8))
        c.server(&b, Array("250 2.0.0 Ok: queued as T1\r\n".utf8))
        c.close(&b)
        let (r, _) = try analyzeBuilt(b, name: "socks5-auth")
        let s = try #require(r.sessions.first)
        #expect(s.proxy == ProxyTunnel(kind: .socks5, target: "mx.example.org:25", authenticated: true))
        #expect(s.banner.map { Array($0.displayLine) } == Array("220 mx ESMTP".utf8))
        #expect(s.anomalies.isEmpty)
        // Only the SMTP bytes reached the decoder.
        #expect(s.bytes == [46 + 21, 14 + 32 + 28])
        #expect(r.transactions(of: s).first?.queueID == "T1")
    }

    /// A refused handshake opens no tunnel: nothing after it is taken for SMTP.
    @Test func refusedSocksIsNotASession() throws {
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40003, serverPort: 1080)
        c.open(&b)
        c.client(&b, [5, 1, 0, 5, 1, 0, 1, 198, 51, 100, 25, 0, 25])
        c.server(&b, [5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0] + Array("220 mx ESMTP\r\n".utf8))
        c.client(&b, Array("EHLO c\r\n".utf8))
        c.close(&b)
        #expect(try analyzeBuilt(b, name: "socks5-refused").0.sessions.isEmpty)
    }

    @Test func detectionBehindAProxy() {
        let request: [UInt8] = [5, 1, 0, 5, 1, 0, 1, 198, 51, 100, 25, 0, 25]
        let reply: [UInt8] = [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        let target = ProxyTunnel(kind: .socks5, target: "198.51.100.25:25")
        #expect(SMTPDetector.detect(server: reply + Array("220 mx\r\n".utf8), client: request + Array("EHLO c\r\n".utf8)) == .yes(proxy: target, preamble: (13, 12)))
        #expect(SMTPDetector.detect(server: reply, client: request) == .undecided)
        #expect(SMTPDetector.detect(server: [5, 0], client: request) == .undecided)
        #expect(SMTPDetector.detect(server: reply + Array("HTTP/1.1 200 OK\r\n".utf8), client: request + Array("GET / HTTP/1.1\r\n".utf8)) == .no)
        #expect(SMTPDetector.detect(server: [5, 0, 5, 1], client: request) == .no)
        #expect(SMTPDetector.detect(server: Array("220 mx\r\n".utf8), client: Array("EHLO c\r\n".utf8)) == .yes(proxy: nil, preamble: (0, 0)))
    }
}
