import Vocabulary

/// Every content test that says "this is SMTP" (or TLS, or which side speaks), in one place.
///
/// Used where a port does not say it: a connection on another port (`classify`), a capture that
/// begins mid-connection (`speaksFirst`), the bytes after a gap (`startsCommand`, `startsReply`)
/// and the bytes where a command or a STARTTLS handshake is due (`startsTLSHandshake`,
/// `isTLSRecord`). Pure functions of the bytes given; nothing is kept.
public enum SMTPDetector {
    /// Whether a connection's first bytes show SMTP.
    public enum Verdict: Sendable, Equatable {
        case yes, no
        /// Too few bytes yet to tell.
        case undecided
    }

    /// SMTP by content: the server greets with `220`, the client answers EHLO or HELO followed by
    /// a space or the line end (RFC 5321 §3.1, §4.1.1.1). Decided as soon as the bytes allow:
    /// `no` at the first byte that cannot fit, `yes` once the greeting's separator and the verb's
    /// end have come.
    public static func classify(server: [UInt8], client: [UInt8]) -> Verdict {
        let greeting = Array("220".utf8)
        guard Array(server.prefix(3)) == Array(greeting.prefix(server.count)) else { return .no }
        guard !client.isEmpty else { return .undecided }
        let verb = client.prefix(4).map { $0 | 0x20 }
        guard Array("ehlo".utf8).starts(with: verb) || Array("helo".utf8).starts(with: verb) else { return .no }
        guard client.count >= 5 else { return .undecided }
        guard [0x20, 0x0d, 0x0a].contains(client[4]) else { return .no }
        return server.count >= 4 ? .yes : .undecided
    }

    /// Which side a mid-stream capture's first bytes come from: true for the server (a reply
    /// line's start), false for the client (the start of a common command verb), nil when they
    /// do not tell (see `TCPReassembler.speaksFirst`).
    public static func speaksFirst(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        guard bytes.count >= 4 else { return nil }
        if startsReply(bytes) { return true }
        let word = UnsafeRawBufferPointer(rebasing: bytes[..<min(bytes.count, 8)])
        for verb in clientFirstWords where startsWith(word, verb) { return false }
        return nil
    }

    /// Command verbs (their first four letters) that show the client's side by its first bytes.
    private static let clientFirstWords = ["ehlo", "helo", "mail", "rcpt", "data", "quit", "rset", "noop", "auth", "bdat", "star"]

    /// `bytes` begins with `word` (lower-case ASCII letters), in any case.
    private static func startsWith(_ bytes: UnsafeRawBufferPointer, _ word: String) -> Bool {
        let v = Array(word.utf8)
        guard bytes.count >= v.count else { return false }
        for i in 0..<v.count where bytes[i] | 0x20 != v[i] { return false }
        return true
    }

    /// The bytes start a reply line: three digits, then a space or `-` (RFC 5321 §4.2). Four
    /// bytes are needed to tell; fewer are not a start.
    @inline(__always)
    static func startsReply(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && ASCII.isDigit(bytes[0]) && ASCII.isDigit(bytes[1]) && ASCII.isDigit(bytes[2])
            && (bytes[3] == 0x20 || bytes[3] == UInt8(ascii: "-"))
    }

    /// The line starts with a verb a client sends (to resynchronise after a gap).
    static func startsCommand(_ line: UnsafeRawBufferPointer) -> Bool {
        var end = 0
        while end < line.count, end < 10, !ASCII.isSpace(line[end]) { end += 1 }
        guard end >= 4 else { return false }
        let v = Verb(Array(line[0..<end]))
        if v.isKnown { return true }
        // `MAIL FROM:` without a space.
        return ASCII.hasPrefix(line, lowercased: "mail from") || ASCII.hasPrefix(line, lowercased: "rcpt to")
    }

    /// A TLS handshake record's header where a command is due: content type 22 (handshake),
    /// version 3.0–3.4 (RFC 8446 §5.1). A client that begins TLS without STARTTLS, or implicit
    /// TLS (RFC 8314) seen from either side's first bytes.
    @inline(__always)
    static func startsTLSHandshake(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 3 && bytes[0] == 0x16 && bytes[1] == 0x03 && bytes[2] <= 0x04
    }

    /// A TLS record header, or as much of one as `bytes` holds: content type 20–23
    /// (change_cipher_spec, alert, handshake, application_data; a ClientHello is 0x16), then
    /// version 3.0–3.4 (RFC 8446 §5.1: 0x03 0x00–0x04). Judges what follows STARTTLS's 220
    /// (`StartTLSOutcome`).
    public static func isTLSRecord(_ bytes: [UInt8]) -> Bool {
        guard let type = bytes.first, (0x14...0x17).contains(type) else { return false }
        if bytes.count >= 2, bytes[1] != 0x03 { return false }
        if bytes.count >= 3, bytes[2] > 0x04 { return false }
        return true
    }

    /// Whether a connection on another port carries SMTP, directly or inside a proxy tunnel.
    public enum Detection: Sendable, Equatable {
        /// SMTP: after the handshake of `proxy` when there is one, which takes the first
        /// `preamble` bytes of each direction (0 and 0 without a proxy).
        case yes(proxy: ProxyTunnel?, preamble: (client: Int, server: Int))
        case no
        case undecided

        public static func == (a: Detection, b: Detection) -> Bool {
            switch (a, b) {
            case (.no, .no), (.undecided, .undecided): return true
            case (.yes(let p, let x), .yes(let q, let y)): return p == q && x == y
            default: return false
            }
        }
    }

    /// SMTP by content (see `classify`), also behind a SOCKS 4/4a/5 or HTTP CONNECT handshake
    /// (`ProxyPreamble`): the bytes after a completed handshake are classified as SMTP the usual
    /// way. A refused handshake opens no tunnel.
    public static func detect(server: [UInt8], client: [UInt8]) -> Detection {
        switch ProxyPreamble.parse(client: client, server: server) {
        case .none:
            switch classify(server: server, client: client) {
            case .yes: return .yes(proxy: nil, preamble: (0, 0))
            case .no: return .no
            case .undecided: return .undecided
            }
        case .incomplete: return .undecided
        case .refused: return .no
        case .tunnel(let proxy, let c, let s):
            switch classify(server: Array(server[s...]), client: Array(client[c...])) {
            case .yes: return .yes(proxy: proxy, preamble: (c, s))
            case .no: return .no
            case .undecided: return .undecided
            }
        }
    }
}
