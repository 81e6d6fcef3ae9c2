import Vocabulary

/// A proxy a session went through: the client asked a SOCKS or HTTP proxy for a tunnel to
/// `target`, and the SMTP dialogue followed inside it.
public struct ProxyTunnel: Sendable, Equatable {
    /// The handshake that opened the tunnel.
    public enum Kind: String, Sendable {
        /// SOCKS 4 CONNECT to an IPv4 address.
        case socks4
        /// SOCKS 4a CONNECT to a host name (the address 0.0.0.x, the name after the user id).
        case socks4a
        /// SOCKS 5 CONNECT (RFC 1928), with or without username/password authentication (RFC 1929).
        case socks5
        /// HTTP `CONNECT host:port` answered 2xx (RFC 9110 §9.3.6).
        case httpConnect = "http-connect"
    }

    public var kind: Kind
    /// The destination the client asked for, `host:port` (an IPv6 address bracketed), as sent:
    /// an address, or a name the proxy resolved.
    public var target: String
    /// The client authenticated to the proxy (SOCKS 5 username/password, SOCKS 4 user id, or an
    /// HTTP `Proxy-Authorization` header). Never the credentials.
    public var authenticated: Bool

    public init(kind: Kind, target: String, authenticated: Bool = false) {
        self.kind = kind
        self.target = target
        self.authenticated = authenticated
    }
}

/// Recognises the proxy handshake at the start of a connection: SOCKS 4 / 4a, SOCKS 5 (RFC 1928,
/// with RFC 1929 username/password authentication) and HTTP CONNECT. Pure: given the first bytes
/// of each direction, says whether they are a proxy handshake, whether it is complete, and how
/// many bytes of each direction it takes; what follows is the tunnelled protocol.
public enum ProxyPreamble {
    public enum Result: Sendable, Equatable {
        /// Not a proxy handshake this parser follows.
        case none
        /// A proxy handshake so far; more bytes are needed to decide.
        case incomplete
        /// The proxy refused (SOCKS 5 reply ≠ 0 or no acceptable method or failed authentication,
        /// SOCKS 4 reply ≠ 90, HTTP status ≠ 2xx): no tunnel.
        case refused(ProxyTunnel.Kind)
        /// A tunnel was opened; the handshake takes the first `client` bytes the client sent and
        /// the first `server` bytes the server sent.
        case tunnel(ProxyTunnel, client: Int, server: Int)
    }

    /// Longest HTTP CONNECT request or response header block followed (bytes).
    public static let maxHTTPHeader = 4096

    /// Parses the handshake from the first bytes the client sent and the first bytes the server
    /// (the proxy) sent, as far as they go.
    public static func parse(client: [UInt8], server: [UInt8]) -> Result {
        guard let first = client.first else { return .none }
        // The client speaks first in every handshake here; a server that speaks first is not a proxy.
        switch first {
        case 5: return socks5(Cursor(client), Cursor(server))
        case 4: return socks4(Cursor(client), Cursor(server))
        case UInt8(ascii: "C"): return httpConnect(client, server)
        default: return .none
        }
    }

    // MARK: - SOCKS 5 (RFC 1928, RFC 1929)

    private static func socks5(_ c: Cursor, _ s: Cursor) -> Result {
        var c = c, s = s
        // Method selection: VER NMETHODS METHODS…; the reply VER METHOD.
        guard c.byte() == 5 else { return .none }
        guard let n = c.byte() else { return .incomplete }
        guard n > 0 else { return .none }
        guard let methods = c.bytes(Int(n)) else { return .incomplete }
        guard let ver = s.byte() else { return .incomplete }
        guard ver == 5 else { return .none }
        guard let method = s.byte() else { return .incomplete }
        if method == 0xff { return .refused(.socks5) }  // no acceptable method
        guard methods.contains(method) else { return .none }
        var authenticated = false
        switch method {
        case 0x00: break
        case 0x02:
            // RFC 1929: VER(1) ULEN UNAME PLEN PASSWD; the reply VER STATUS (0 = success).
            guard let v = c.byte() else { return .incomplete }
            guard v == 1 else { return .none }
            guard let ulen = c.byte() else { return .incomplete }
            guard c.bytes(Int(ulen)) != nil, let plen = c.byte(), c.bytes(Int(plen)) != nil else { return .incomplete }
            guard let sv = s.byte() else { return .incomplete }
            guard sv == 1 || sv == 5 else { return .none }  // some servers answer with the SOCKS version
            guard let status = s.byte() else { return .incomplete }
            guard status == 0 else { return .refused(.socks5) }
            authenticated = true
        default:
            return .none  // GSSAPI and private methods wrap what follows: not followed
        }
        // Request: VER CMD RSV ATYP DST.ADDR DST.PORT; only CONNECT (1) opens a stream tunnel.
        guard let v = c.byte() else { return .incomplete }
        guard v == 5 else { return .none }
        guard let cmd = c.byte() else { return .incomplete }
        guard cmd == 1 else { return .none }
        guard let rsv = c.byte() else { return .incomplete }
        guard rsv == 0 else { return .none }
        guard let target = c.socks5Address() else { return c.atEnd ? .incomplete : .none }
        // Reply: VER REP RSV ATYP BND.ADDR BND.PORT.
        guard let rv = s.byte() else { return .incomplete }
        guard rv == 5 else { return .none }
        guard let rep = s.byte() else { return .incomplete }
        guard rep == 0 else { return .refused(.socks5) }
        guard let rrsv = s.byte() else { return .incomplete }
        guard rrsv == 0 else { return .none }
        guard s.socks5Address() != nil else { return s.atEnd ? .incomplete : .none }
        return .tunnel(ProxyTunnel(kind: .socks5, target: target, authenticated: authenticated), client: c.offset, server: s.offset)
    }

    // MARK: - SOCKS 4 / 4a

    /// Longest SOCKS 4 user id or 4a host name followed.
    static let maxSocks4Field = 255

    private static func socks4(_ c: Cursor, _ s: Cursor) -> Result {
        var c = c, s = s
        // VN(4) CD(1 = CONNECT) DSTPORT DSTIP USERID NUL [4a: HOST NUL].
        guard c.byte() == 4 else { return .none }
        guard let cd = c.byte() else { return .incomplete }
        guard cd == 1 else { return .none }
        guard let port = c.uint16(), let address = c.bytes(4) else { return .incomplete }
        let ip = Array(address)
        guard let user = c.nulTerminated(limit: maxSocks4Field) else { return c.atEnd ? .incomplete : .none }
        var kind = ProxyTunnel.Kind.socks4
        var host = ip.map(String.init).joined(separator: ".")
        if ip[0] == 0, ip[1] == 0, ip[2] == 0, ip[3] != 0 {
            // SOCKS 4a: the address 0.0.0.x says a host name follows the user id.
            guard let name = c.nulTerminated(limit: maxSocks4Field) else { return c.atEnd ? .incomplete : .none }
            guard !name.isEmpty, name.allSatisfy(isHostByte) else { return .none }
            kind = .socks4a
            host = String(decoding: name, as: UTF8.self)
        }
        // Reply: VN(0) CD DSTPORT DSTIP, 8 bytes; CD 90 = granted, 91–93 refused.
        guard let vn = s.byte() else { return .incomplete }
        guard vn == 0 || vn == 4 else { return .none }  // 0 per the protocol; a few servers echo 4
        guard let code = s.byte() else { return .incomplete }
        guard code == 90 else { return (91...93).contains(code) ? .refused(kind) : .none }
        guard s.bytes(6) != nil else { return .incomplete }
        return .tunnel(ProxyTunnel(kind: kind, target: "\(host):\(port)", authenticated: !user.isEmpty), client: c.offset, server: s.offset)
    }

    // MARK: - HTTP CONNECT

    private static func httpConnect(_ client: [UInt8], _ server: [UInt8]) -> Result {
        let method = Array("CONNECT ".utf8)
        guard client.count >= method.count else {
            return method.starts(with: client) ? .incomplete : .none
        }
        guard client.starts(with: method) else { return .none }
        // Request line: CONNECT authority HTTP/1.x, then header lines up to an empty line.
        guard let (requestLines, clientEnd) = headerBlock(client) else {
            return client.count < maxHTTPHeader ? .incomplete : .none
        }
        let parts = requestLines[0].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        // The target is in authority form, host:port (RFC 9110 §9.3.6).
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)), parts[1].contains(UInt8(ascii: ":")),
            parts[1].allSatisfy(isHostByte)
        else { return .none }
        let authenticated = requestLines.dropFirst().contains { ASCII.hasPrefix($0, lowercased: "proxy-authorization:") }
        guard !server.isEmpty else { return .incomplete }
        // Status line: HTTP/1.x SP 3DIGIT SP reason.
        let version = Array("HTTP/1.".utf8)
        guard server.count >= version.count + 5 else {
            return version.starts(with: server.prefix(version.count)) ? .incomplete : .none
        }
        guard server.starts(with: version), server[version.count + 1] == UInt8(ascii: " "),
            ASCII.isDigit(server[version.count + 2]), ASCII.isDigit(server[version.count + 3]), ASCII.isDigit(server[version.count + 4])
        else { return .none }
        guard server[version.count + 2] == UInt8(ascii: "2") else { return .refused(.httpConnect) }
        guard let (_, serverEnd) = headerBlock(server) else {
            return server.count < maxHTTPHeader ? .incomplete : .none
        }
        return .tunnel(ProxyTunnel(kind: .httpConnect, target: String(decoding: parts[1], as: UTF8.self), authenticated: authenticated), client: clientEnd, server: serverEnd)
    }

    /// The lines of an HTTP header block (without their CRLF or LF) and the offset just after the
    /// empty line that ends it; nil when the empty line is not within the bytes (or the limit).
    static func headerBlock(_ bytes: [UInt8]) -> ([ArraySlice<UInt8>], Int)? {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        let end = min(bytes.count, maxHTTPHeader)
        while i < end {
            if bytes[i] == 0x0a {
                var line = bytes[start..<i]
                if line.last == 0x0d { line = line.dropLast() }
                if line.isEmpty { return lines.isEmpty ? nil : (lines, i + 1) }
                lines.append(line)
                start = i + 1
            }
            i += 1
        }
        return nil
    }

    /// Bytes allowed in a host name or an address (`host:port`, IPv6 in brackets): printable,
    /// without spaces.
    static func isHostByte(_ b: UInt8) -> Bool { b > 0x20 && b < 0x7f }

    /// Reads one direction's bytes in order; nil when they run out.
    struct Cursor {
        let bytes: [UInt8]
        var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { offset >= bytes.count }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            offset += 1
            return bytes[offset - 1]
        }

        mutating func bytes(_ n: Int) -> ArraySlice<UInt8>? {
            guard n <= bytes.count - offset else { return nil }
            offset += n
            return bytes[(offset - n)..<offset]
        }

        mutating func uint16() -> UInt16? {
            guard let b = bytes(2) else { return nil }
            return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
        }

        /// Bytes up to a NUL (the NUL read, not returned); nil when there is none within `limit`
        /// bytes — the cursor is then at its end if the bytes ran out first.
        mutating func nulTerminated(limit: Int) -> ArraySlice<UInt8>? {
            let window = bytes[offset..<min(bytes.count, offset + limit + 1)]
            guard let nul = window.firstIndex(of: 0) else {
                if window.count < limit + 1 { offset = bytes.count }
                return nil
            }
            let field = bytes[offset..<nul]
            offset = nul + 1
            return field
        }

        /// RFC 1928 §4/§5 ATYP DST.ADDR DST.PORT as `host:port`; nil when cut short (the cursor
        /// then at its end) or invalid (not at its end).
        mutating func socks5Address() -> String? {
            let start = offset
            func cut() -> String? {
                offset = bytes.count
                return nil
            }
            guard let atyp = byte() else { return cut() }
            let host: String
            switch atyp {
            case 1:
                guard let a = bytes(4) else { return cut() }
                host = a.map(String.init).joined(separator: ".")
            case 3:
                guard let n = byte() else { return cut() }
                guard let name = bytes(Int(n)) else { return cut() }
                guard n > 0, name.allSatisfy(ProxyPreamble.isHostByte) else {
                    offset = start
                    return nil
                }
                host = String(decoding: name, as: UTF8.self)
            case 4:
                guard let a = bytes(16) else { return cut() }
                host = "[" + IPAddress.v6(Self.be64(a.prefix(8)), Self.be64(a.suffix(8))).description + "]"
            default:
                offset = start
                return nil
            }
            guard let port = uint16() else { return cut() }
            return "\(host):\(port)"
        }

        static func be64(_ b: ArraySlice<UInt8>) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }
    }
}
