import SMTP
import Testing

/// The proxy handshake before a tunnelled SMTP dialogue, from literal bytes (RFC 1928, RFC 1929,
/// SOCKS 4 / 4a, HTTP CONNECT).
@Suite struct ProxyPreambleTests {
    static let greeting = Array("220 mx.example.org ESMTP\r\n".utf8)
    static let ehlo = Array("EHLO ws01.example.net\r\n".utf8)

    // SOCKS 5, no authentication, IPv4 target 198.51.100.25:25.
    static let s5Greeting: [UInt8] = [5, 1, 0]
    static let s5Method: [UInt8] = [5, 0]
    static let s5Request: [UInt8] = [5, 1, 0, 1, 198, 51, 100, 25, 0, 25]
    static let s5Reply: [UInt8] = [5, 0, 0, 1, 192, 0, 2, 1, 0xa2, 0x1c]

    // SOCKS 5 with username/password, domain target mx.example.org:587.
    static let s5AuthGreeting: [UInt8] = [5, 2, 0, 2]
    static let s5AuthMethod: [UInt8] = [5, 2]
    static let s5Auth: [UInt8] = [1, 5] + Array("alice".utf8) + [6] + Array("secret".utf8)
    static let s5AuthOK: [UInt8] = [1, 0]
    static let s5DomainRequest: [UInt8] = [5, 1, 0, 3, 14] + Array("mx.example.org".utf8) + [0x02, 0x4b]

    // SOCKS 4 to 198.51.100.25:25 with user id "alice"; SOCKS 4a to mx.example.org:25.
    static let s4Request: [UInt8] = [4, 1, 0, 25, 198, 51, 100, 25] + Array("alice".utf8) + [0]
    static let s4aRequest: [UInt8] = [4, 1, 0, 25, 0, 0, 0, 1, 0] + Array("mx.example.org".utf8) + [0]
    static let s4Granted: [UInt8] = [0, 90, 0, 25, 198, 51, 100, 25]

    static let connect = Array("CONNECT 198.51.100.25:25 HTTP/1.1\r\nHost: 198.51.100.25:25\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n".utf8)
    static let connected = Array("HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n".utf8)

    func tunnel(_ client: [UInt8], _ server: [UInt8]) -> (ProxyTunnel, Int, Int)? {
        if case .tunnel(let t, let c, let s) = ProxyPreamble.parse(client: client, server: server) { return (t, c, s) }
        return nil
    }

    @Test func socks5WithoutAuthentication() throws {
        let client = Self.s5Greeting + Self.s5Request, server = Self.s5Method + Self.s5Reply
        let (t, c, s) = try #require(tunnel(client + Self.ehlo, server + Self.greeting))
        #expect(t == ProxyTunnel(kind: .socks5, target: "198.51.100.25:25"))
        #expect(c == client.count)
        #expect(s == server.count)
    }

    @Test func socks5WithUsernamePasswordAndADomainTarget() throws {
        let client = Self.s5AuthGreeting + Self.s5Auth + Self.s5DomainRequest
        let server = Self.s5AuthMethod + Self.s5AuthOK + Self.s5Reply
        let (t, c, s) = try #require(tunnel(client + Self.ehlo, server + Self.greeting))
        #expect(t == ProxyTunnel(kind: .socks5, target: "mx.example.org:587", authenticated: true))
        #expect(c == client.count)
        #expect(s == server.count)
    }

    @Test func socks5IPv6TargetAndReply() throws {
        let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x25]
        let client = Self.s5Greeting + [5, 1, 0, 4] + v6 + [0, 25]
        let server = Self.s5Method + [5, 0, 0, 4] + v6 + [0x80, 0]
        let (t, c, s) = try #require(tunnel(client, server))
        #expect(t.target == "[2001:db8::25]:25")
        #expect(c == client.count)
        #expect(s == server.count)
    }

    /// The client does not wait for the method reply before its request (optimistic sending):
    /// the streams are read each in its own order.
    @Test func socks5ClientSendsEverythingAtOnce() throws {
        let (t, _, _) = try #require(tunnel(Self.s5Greeting + Self.s5Request + Self.ehlo, Self.s5Method + Self.s5Reply))
        #expect(t.kind == .socks5)
    }

    @Test func socks4AndSocks4a() throws {
        let (t4, c4, s4) = try #require(tunnel(Self.s4Request + Self.ehlo, Self.s4Granted + Self.greeting))
        #expect(t4 == ProxyTunnel(kind: .socks4, target: "198.51.100.25:25", authenticated: true))
        #expect(c4 == Self.s4Request.count)
        #expect(s4 == 8)
        let (t4a, c4a, _) = try #require(tunnel(Self.s4aRequest, Self.s4Granted))
        #expect(t4a == ProxyTunnel(kind: .socks4a, target: "mx.example.org:25"))
        #expect(c4a == Self.s4aRequest.count)
    }

    @Test func httpConnect() throws {
        let (t, c, s) = try #require(tunnel(Self.connect + Self.ehlo, Self.connected + Self.greeting))
        #expect(t == ProxyTunnel(kind: .httpConnect, target: "198.51.100.25:25"))
        #expect(c == Self.connect.count)
        #expect(s == Self.connected.count)
        // LF-only line ends, proxy credentials, an IPv6 target, a host name target.
        let lf = Array("CONNECT [2001:db8::25]:25 HTTP/1.1\nProxy-Authorization: Basic YTpi\n\n".utf8)
        let (t6, c6, s6) = try #require(tunnel(lf, Array("HTTP/1.1 200 OK\n\n220 mx\r\n".utf8)))
        #expect(t6 == ProxyTunnel(kind: .httpConnect, target: "[2001:db8::25]:25", authenticated: true))
        #expect(c6 == lf.count)
        #expect(s6 == 17)
    }

    /// Every split of a handshake, in either direction, is undecided until the last byte of it
    /// arrives: the handshake may come in any number of segments.
    @Test(arguments: [
        (s5AuthGreeting + s5Auth + s5DomainRequest, s5AuthMethod + s5AuthOK + s5Reply),
        (s5Greeting + s5Request, s5Method + s5Reply),
        (s4Request, s4Granted),
        (s4aRequest, s4Granted),
        (connect, connected),
    ] as [([UInt8], [UInt8])])
    func splitOverSegments(client: [UInt8], server: [UInt8]) {
        #expect(tunnel(client, server) != nil)
        #expect(ProxyPreamble.parse(client: [], server: server) == .none)
        for n in 1..<client.count {
            #expect(ProxyPreamble.parse(client: Array(client[..<n]), server: server) == .incomplete, "client cut at \(n)")
        }
        for n in 0..<server.count {
            #expect(ProxyPreamble.parse(client: client, server: Array(server[..<n])) == .incomplete, "server cut at \(n)")
        }
    }

    @Test func refusedHandshakesOpenNoTunnel() {
        // SOCKS 5: no acceptable method; authentication failed; CONNECT refused (5 = connection refused).
        #expect(ProxyPreamble.parse(client: Self.s5AuthGreeting, server: [5, 0xff]) == .refused(.socks5))
        #expect(ProxyPreamble.parse(client: Self.s5AuthGreeting + Self.s5Auth, server: Self.s5AuthMethod + [1, 1]) == .refused(.socks5))
        #expect(ProxyPreamble.parse(client: Self.s5Greeting + Self.s5Request, server: Self.s5Method + [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]) == .refused(.socks5))
        // SOCKS 4: 91 rejected; 4a likewise.
        #expect(ProxyPreamble.parse(client: Self.s4Request, server: [0, 91, 0, 0, 0, 0, 0, 0]) == .refused(.socks4))
        #expect(ProxyPreamble.parse(client: Self.s4aRequest, server: [0, 92]) == .refused(.socks4a))
        // HTTP: 407 and 502.
        #expect(ProxyPreamble.parse(client: Self.connect, server: Array("HTTP/1.1 407 Proxy Authentication Required\r\n".utf8)) == .refused(.httpConnect))
        #expect(ProxyPreamble.parse(client: Self.connect, server: Array("HTTP/1.0 502 Bad Gateway\r\n\r\n".utf8)) == .refused(.httpConnect))
    }

    @Test func garbageIsNotAProxyHandshake() {
        let cases: [([UInt8], [UInt8])] = [
            (Array("EHLO x\r\n".utf8), Self.greeting),  // plain SMTP
            ([], Self.greeting),  // the server speaks first
            (Array("GET / HTTP/1.1\r\n\r\n".utf8), []),
            (Array("CONNECTED\r\n".utf8), []),
            (Array("CONNECT host HTTP/1.1\r\n\r\n".utf8), []),  // no port
            (Array("CONNECT a:1 SMTP/1.0\r\n\r\n".utf8), []),
            (Self.connect, Array("220 mx ESMTP\r\n".utf8)),  // the answer is not HTTP
            ([5, 0], []),  // no methods
            ([5, 1, 0], [4, 0]),  // reply of another version
            ([5, 1, 0], [5, 2]),  // a method the client did not offer
            ([5, 1, 1], [5, 1]),  // GSSAPI: not followed
            ([5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 25], [5, 0]),  // BIND
            ([5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 25], [5, 0]),  // unknown address type
            ([5, 1, 0, 5, 1, 0, 3, 0, 0, 25], [5, 0]),  // empty domain
            ([4, 2, 0, 25, 1, 2, 3, 4, 0], []),  // SOCKS 4 BIND
            ([4, 1, 0, 25, 1, 2, 3, 4, 0], [0, 17]),  // an unknown reply code
            ([4, 1, 0, 25, 1, 2, 3, 4] + [UInt8](repeating: 65, count: 300), []),  // a user id without end
            ([0x16, 3, 1, 0, 200], []),  // TLS
        ]
        for (client, server) in cases {
            #expect(ProxyPreamble.parse(client: client, server: server) == .none, "\(client.prefix(12)) / \(server.prefix(12))")
        }
        // An HTTP request with no end within the limit is given up.
        let endless = Array("CONNECT a:25 HTTP/1.1\r\n".utf8) + [UInt8](repeating: 65, count: ProxyPreamble.maxHTTPHeader)
        #expect(ProxyPreamble.parse(client: endless, server: []) == .none)
    }

    /// Any byte of a handshake changed to any of a few values, any cut: an outcome, never a trap.
    @Test func mutatedHandshakesAreSafe() {
        let pairs: [([UInt8], [UInt8])] = [
            (Self.s5AuthGreeting + Self.s5Auth + Self.s5DomainRequest, Self.s5AuthMethod + Self.s5AuthOK + Self.s5Reply),
            (Self.s4aRequest, Self.s4Granted),
            (Self.connect, Self.connected),
        ]
        var outcomes = 0
        for (client, server) in pairs {
            for i in 0..<(client.count + server.count) {
                for v: UInt8 in [0, 1, 3, 4, 5, 0x0a, 0x20, 0x7f, 0xff] {
                    var c = client, s = server
                    if i < c.count { c[i] = v } else { s[i - c.count] = v }
                    _ = ProxyPreamble.parse(client: c, server: s)
                    _ = ProxyPreamble.parse(client: Array(c.prefix(i)), server: s)
                    outcomes += 1
                }
            }
        }
        #expect(outcomes > 1000)
    }
}
