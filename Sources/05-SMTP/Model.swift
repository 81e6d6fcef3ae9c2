import Vocabulary

/// SMTP command verbs (RFC 5321 §4.1 and extensions), plus two pseudo-commands that receive
/// replies without being a command line: the end of message data and an AUTH response line.
public enum Verb: Hashable, Sendable {
    case helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help
    case starttls, auth, etrn, xclient, xforward
    /// Any other verb, upper-cased as sent (e.g. `XXXX` written by an inspecting firewall).
    case other(String)
    /// The `CRLF.CRLF` that ends DATA (RFC 5321 §4.1.1.4): its reply is the message's fate.
    case endOfData
    /// A line answering a `334` challenge (RFC 4954 §4).
    case authResponse

    public init(_ word: [UInt8]) {
        // The known verbs have at most 8 letters: compared as one upper-cased big-endian integer
        // (a word with a NUL byte is never a verb, so lengths cannot be confused).
        var packed: UInt64 = 0
        if word.count <= 8, !word.contains(0) {
            for b in word { packed = packed << 8 | UInt64(ASCII.upper(b)) }
        }
        switch packed {
        case 0x48454C4F: self = .helo  // HELO
        case 0x45484C4F: self = .ehlo  // EHLO
        case 0x4D41494C: self = .mail  // MAIL
        case 0x52435054: self = .rcpt  // RCPT
        case 0x44415441: self = .data  // DATA
        case 0x42444154: self = .bdat  // BDAT
        case 0x52534554: self = .rset  // RSET
        case 0x4E4F4F50: self = .noop  // NOOP
        case 0x51554954: self = .quit  // QUIT
        case 0x56524659: self = .vrfy  // VRFY
        case 0x4558504E: self = .expn  // EXPN
        case 0x48454C50: self = .help  // HELP
        case 0x5354415254544C53: self = .starttls  // STARTTLS
        case 0x41555448: self = .auth  // AUTH
        case 0x4554524E: self = .etrn  // ETRN
        case 0x58434C49454E54: self = .xclient  // XCLIENT
        case 0x58464F5257415244: self = .xforward  // XFORWARD
        default: self = .other(String(decoding: word.map(ASCII.upper), as: UTF8.self))
        }
    }

    public var name: String {
        switch self {
        case .helo: return "HELO"
        case .ehlo: return "EHLO"
        case .mail: return "MAIL"
        case .rcpt: return "RCPT"
        case .data: return "DATA"
        case .bdat: return "BDAT"
        case .rset: return "RSET"
        case .noop: return "NOOP"
        case .quit: return "QUIT"
        case .vrfy: return "VRFY"
        case .expn: return "EXPN"
        case .help: return "HELP"
        case .starttls: return "STARTTLS"
        case .auth: return "AUTH"
        case .etrn: return "ETRN"
        case .xclient: return "XCLIENT"
        case .xforward: return "XFORWARD"
        case .other(let s): return s
        case .endOfData: return "."
        case .authResponse: return "(auth response)"
        }
    }

    /// A small number for each known verb, -1 for the others: compared where verbs are compared
    /// by the thousand.
    public var knownCode: Int {
        switch self {
        case .helo: 0
        case .ehlo: 1
        case .mail: 2
        case .rcpt: 3
        case .data: 4
        case .bdat: 5
        case .rset: 6
        case .noop: 7
        case .quit: 8
        case .vrfy: 9
        case .expn: 10
        case .help: 11
        case .starttls: 12
        case .auth: 13
        case .etrn: 14
        case .xclient: 15
        case .xforward: 16
        case .other, .endOfData, .authResponse: -1
        }
    }

    /// Verbs a real client sends; used to resynchronise after a gap and to recognise SMTP by content.
    public var isKnown: Bool { knownCode >= 0 }
}

/// A parsed client command.
public struct Command: Sendable {
    /// 0-based position among the session's commands.
    public var index: Int
    public var time: Timestamp
    public var verb: Verb
    /// The line as sent (without CRLF), or with credentials replaced by `‹redacted›` unless the
    /// decoder was told to show them.
    public var line: [UInt8]
    /// MAIL FROM / RCPT TO path without angle brackets; "" for the null reverse-path `<>`.
    public var address: String?
    /// ESMTP parameters (RFC 5321 §4.1.2 `Mail-parameters`), keys upper-cased, in order.
    public var parameters: [(key: String, value: String?)] = []
    /// HELO/EHLO argument; VRFY/EXPN/ETRN argument; AUTH mechanism.
    public var argument: String?
    /// BDAT chunk size and LAST flag.
    public var chunkSize: Int?
    public var last = false
    /// Commands sent while earlier ones were still unanswered share a group number (RFC 2920).
    public var group: Int
    /// The user name an AUTH exchange carried (RFC 4616 authcid, LOGIN's first response,
    /// CRAM-MD5's user, the user of an NTLM AUTHENTICATE message).
    public var authUser: String?
    /// The password a PLAIN or LOGIN response carried, decoded; set only when the decoder was told
    /// to show credentials.
    public var authPassword: String?
    /// The names of an NTLM AUTHENTICATE message (user, domain, workstation); no secret.
    public var ntlm: NTLMIdentity?
    /// True when the command line could not be parsed as its verb requires.
    public var malformed = false
}

/// A complete (possibly multi-line) server reply (RFC 5321 §4.2).
public struct Reply: Sendable {
    public var time: Timestamp
    public var code: Int
    /// RFC 3463 enhanced status code from the last line, e.g. `2.0.0`.
    public var enhanced: String?
    /// Text of each line after the code and separator (enhanced code kept), as sent.
    public var lines: [[UInt8]]
    /// IPv4 TTL / IPv6 hop limit of the packet that carried the reply's first byte (0 unknown).
    public var ttl: UInt8
    public var ipID: UInt16?

    public init(time: Timestamp, code: Int, enhanced: String? = nil, lines: [[UInt8]], ttl: UInt8 = 0, ipID: UInt16? = nil) {
        self.time = time
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
        self.ttl = ttl
        self.ipID = ipID
    }

    public var isPositive: Bool { code >= 200 && code < 400 }

    /// The reply as one display line: `250 text`; a multi-line reply as `250 first · second · …`.
    public var displayLine: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + lines.reduce(0) { $0 + $1.count + 4 })
        if (100...999).contains(code) {
            out.append(UInt8(48 + code / 100))
            out.append(UInt8(48 + code / 10 % 10))
            out.append(UInt8(48 + code % 10))
        } else {
            out += String(code).utf8
        }
        out.append(0x20)
        for (i, l) in lines.enumerated() {
            if i > 0 { out += Self.separator }
            out += l
        }
        return out
    }
    /// ` · ` between the lines of a multi-line reply shown on one line.
    private static let separator: [UInt8] = [0x20, 0xc2, 0xb7, 0x20]
    public var isIntermediate: Bool { code >= 300 && code < 400 }
    /// Text of the last line without the enhanced code.
    public var text: String {
        var t = lines.last ?? []
        if let e = enhanced, t.count >= e.utf8.count {
            t.removeFirst(e.utf8.count)
            while t.first == 0x20 { t.removeFirst() }
        }
        return String(decoding: t, as: UTF8.self)
    }
}

/// What was learnt of a message's content.
public struct MessageInfo: Sendable {
    public var startTime: Timestamp
    public var endTime: Timestamp
    /// Octets after dot-unstuffing: every line with its CRLF, the terminating `.CRLF` excluded
    /// (BDAT: the chunk octets).
    public var size: Int = 0
    /// False when a gap hid part of the message or its end was never seen.
    public var complete = true
    public var headers = MessageHeaders()
    /// Lines ended by a bare LF inside the message.
    public var bareLineFeeds = 0
    /// The content has bytes above 127.
    public var eightBit = false
    /// The content as sent, when the decoder keeps bodies (`Options.keepBodies`).
    public var body: MessageBody?
    /// The leaf MIME parts, when the decoder scans them (`Options.scanParts`).
    public var parts: [MIMEPart]?
}

/// Everything the decoder reports.
public enum SMTPEvent: Sendable {
    case command(Command)
    /// A reply, with the index of the command it answers (nil for the greeting or when no
    /// command was waiting).
    case reply(Reply, answering: Int?, verb: Verb?)
    case messageStarted(Timestamp)
    case messageEnded(MessageInfo)
    /// TLS began (after STARTTLS's 220, or implicit TLS); text decoding stops.
    case tlsStarted(Timestamp)
    /// Bytes missing from the capture in one direction.
    case gap(Direction, Int, Timestamp)
    case anomaly(Anomaly)
}
