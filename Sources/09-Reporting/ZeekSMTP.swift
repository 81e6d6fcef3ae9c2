import SMTP
import Sessions
import Vocabulary
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One row of Zeek's `smtp.log` (the `SMTP::Info` record of Zeek's `base/protocols/smtp`), filled
/// the way Zeek's scripts fill it. Values from the wire are kept as bytes, undecoded, as Zeek logs
/// them. See docs/output.md, "Zeek smtp.log".
public struct ZeekSMTPRow: Sendable {
    /// When Zeek would have begun the row: the session's first SMTP line, the reply that ended the
    /// previous message, or the MAIL that flushed a row without a message.
    public var ts: Timestamp
    /// The Community ID of the connection (Zeek writes its own connection uid here).
    public var uid: String
    public var orig: Endpoint
    public var resp: Endpoint
    /// Messages whose end-of-data reply was seen before this row began, plus one.
    public var transDepth: Int
    /// The last HELO/EHLO argument sent (whatever the reply).
    public var helo: [UInt8]?
    /// The first address in the MAIL FROM argument; unset for `<>`.
    public var mailfrom: [UInt8]?
    /// Every address sent in RCPT TO, whatever the reply (a set: first-seen order, no repeats).
    public var rcptto: [[UInt8]]?
    public var date: [UInt8]?
    public var from: [UInt8]?
    /// The To and Cc headers split at commas outside quotes (sets).
    public var to: [[UInt8]]?
    public var cc: [[UInt8]]?
    public var replyTo: [UInt8]?
    public var msgID: [UInt8]?
    public var inReplyTo: [UInt8]?
    public var subject: [UInt8]?
    /// The first IP address in X-Originating-IP.
    public var xOriginatingIP: IPAddress?
    /// The last and the second-to-last Received header (Zeek shifts each new one in).
    public var firstReceived: [UInt8]?
    public var secondReceived: [UInt8]?
    /// The last server reply line seen before the row was written: `code text`.
    public var lastReply: [UInt8]?
    /// Server, client, then an address from each Received header (as Zeek picks it).
    public var path: [IPAddress]
    /// X-Mailer, User-Agent or X-User-Agent, whichever came last.
    public var userAgent: [UInt8]?
    /// STARTTLS was accepted (220) while this row was open, or the row was read inside TLS.
    public var tls: Bool
    /// Zeek's file ids: smtpscope does not extract files, so always empty.
    public var fuids: [String] = []
    /// Zeek's `has_client_activity`: a row is written only when set (MAIL, RCPT, STARTTLS).
    var activity = false
}

/// Builds Zeek `smtp.log` rows from a session by replaying its timeline through the rules of
/// Zeek's SMTP script: a row per MAIL (flushed at the next MAIL, at the reply to the end of data,
/// or at the connection's end), RCPT/MAIL/STARTTLS marking it worth writing.
public enum ZeekSMTP {
    /// The header names whose values the rows need as sent (`SMTPDecoder.Options.rawHeaders`).
    public static let headerNames: Set<String> = [
        "date", "from", "to", "cc", "reply-to", "message-id", "in-reply-to", "subject",
        "x-originating-ip", "received", "x-mailer", "user-agent", "x-user-agent",
    ]
    /// Zeek's caps on set sizes and path length (`SMTP::max_rcptto_addresses` and the like).
    static let maxSet = 1000

    public static func rows(_ s: Session, _ txns: [Transaction]) -> [ZeekSMTPRow] {
        let uid = CommunityID.v1(s.client, s.server)
        let byIndex = Dictionary(txns.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        var rows: [ZeekSMTPRow] = []
        var row: ZeekSMTPRow?
        var delivered = 0
        var helo: [UInt8]?
        var bdatLast = false
        // Inside TLS the lines are read only with keys; Zeek never sees them. Rows begun there
        // are marked tls.
        var inTLS = s.starttls == .implicit
        var verbs: [Int: Verb] = [:]

        func begin(_ t: Timestamp) -> ZeekSMTPRow {
            ZeekSMTPRow(ts: t, uid: uid, orig: s.client, resp: s.server, transDepth: delivered + 1, helo: helo,
                        path: [s.server.address, s.client.address], tls: inTLS)
        }
        /// Zeek's `smtp_message`: write the row if the client did something, and begin the next.
        func flush(_ t: Timestamp) {
            guard let r = row, r.activity else { return }
            rows.append(r)
            row = begin(t)
        }

        for e in s.timeline {
            switch e.kind {
            case .command(let index, let verb, _):
                if row == nil { row = begin(e.time) }
                verbs[index] = verb
                let arg = argument(e.line)
                switch verb {
                case .helo, .ehlo:
                    helo = arg
                    row?.helo = arg
                case .rcpt where ASCII.hasPrefix(arg, lowercased: "to:"):
                    var set = row?.rcptto ?? []
                    for a in emailAddresses(arg) {
                        let address = removing(Array("ORCPT=rfc822".utf8), from: a)
                        if set.count < maxSet, !set.contains(address) { set.append(address) }
                    }
                    row?.rcptto = set
                    row?.activity = true
                case .mail where ASCII.hasPrefix(arg, lowercased: "from:"):
                    flush(e.time)
                    if let a = emailAddresses(arg).first { row?.mailfrom = a }
                    row?.activity = true
                case .bdat where arg.count >= 5 && Array(arg.suffix(5)) == Array(" LAST".utf8):
                    bdatLast = true
                default:
                    break
                }
            case .reply(let code, let answering):
                if row == nil { row = begin(e.time) }
                row?.lastReply = lastLine(e.line)
                let verb = answering.flatMap { verbs[$0] }
                if verb == .starttls, code == 220 {
                    row?.tls = true
                    row?.activity = true
                    inTLS = true
                }
                if verb == .endOfData || (verb == .bdat && bdatLast) {
                    delivered += 1
                    bdatLast = false
                    flush(e.time)
                    row = begin(e.time)
                }
            case .message:
                guard var r = row, let n = e.transaction, let h = byIndex[n]?.headers else { break }
                apply(fields(h), to: &r)
                row = r
            case .tls, .gap, .note:
                break
            }
        }
        if let r = row, r.activity { rows.append(r) }
        return rows
    }

    /// The header fields in message order as sent; from the decoded values when the decoder was
    /// not asked to keep them (`rawHeaders` empty).
    static func fields(_ h: MessageHeaders) -> [MessageHeaders.RawField] {
        if !h.raw.isEmpty { return h.raw }
        var out: [MessageHeaders.RawField] = []
        func add(_ name: String, _ v: String?) { if let v { out.append(.init(name: name, value: Array(v.utf8))) } }
        add("date", h.date)
        add("from", h.from)
        add("to", h.to)
        add("cc", h.cc)
        add("message-id", h.messageID)
        if let raw = h.rawSubject { out.append(.init(name: "subject", value: raw)) }
        for (name, values) in h.extra.sorted(by: { $0.key < $1.key }) where headerNames.contains(name) {
            for v in values { add(name, v) }
        }
        return out
    }

    /// Zeek's `mime_one_header` handlers, for one message's top-level header fields.
    static func apply(_ fields: [MessageHeaders.RawField], to r: inout ZeekSMTPRow) {
        for f in fields {
            let v = f.value
            switch f.name {
            case "message-id": r.msgID = v
            case "received":
                if let first = r.firstReceived { r.secondReceived = first }
                r.firstReceived = v
                // The path: the second wrapped address of the header, else the first.
                let ips = ipAddresses(v, wrapped: true)
                if let ip = ips.count > 1 ? ips[1] : ips.first, r.path.last != ip, r.path.count < maxSet {
                    r.path.append(ip)
                }
            case "in-reply-to": r.inReplyTo = v
            case "subject": r.subject = v
            case "from": r.from = v
            case "reply-to": r.replyTo = v
            case "date": r.date = v
            case "to": r.to = union(r.to ?? [], splitAddresses(v))
            case "cc": r.cc = union(r.cc ?? [], splitAddresses(v))
            case "x-originating-ip": if let ip = ipAddresses(v, wrapped: false).first { r.xOriginatingIP = ip }
            case "x-mailer", "user-agent", "x-user-agent": r.userAgent = v
            default: break
            }
        }
    }

    static func union(_ set: [[UInt8]], _ more: [[UInt8]]) -> [[UInt8]] {
        var out = set
        for m in more where out.count < maxSet && !out.contains(m) { out.append(m) }
        return out
    }

    // MARK: - Zeek's string helpers, restated

    /// A command's argument: what follows the verb and the blanks after it.
    static func argument(_ line: [UInt8]) -> [UInt8] {
        var i = 0
        while i < line.count, line[i] != 0x20, line[i] != 0x09 { i += 1 }
        while i < line.count, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        return Array(line[i...])
    }

    /// A reply's last line, `code text`, from its timeline line (`code first · second · …`).
    static func lastLine(_ display: [UInt8]) -> [UInt8] {
        let separator: [UInt8] = [0x20, 0xc2, 0xb7, 0x20]
        guard display.count > 4 else { return display }
        var i = display.count - separator.count
        while i >= 4 {
            if display[i] == 0x20, Array(display[i..<(i + 4)]) == separator {
                return Array(display.prefix(4)) + display[(i + 4)...]
            }
            i -= 1
        }
        return display
    }

    /// Zeek's `extract_email_addrs_vec`: every `local@domain` between delimiters (`<`, `,`, `:`,
    /// blanks before; `>`, `,`, `;`, blanks after), with the delimiters and blanks removed.
    static func emailAddresses(_ s: [UInt8]) -> [[UInt8]] {
        func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
        func lead(_ c: UInt8) -> Bool { c == UInt8(ascii: "<") || c == UInt8(ascii: ",") || c == UInt8(ascii: ":") || blank(c) }
        func trail(_ c: UInt8) -> Bool { c == UInt8(ascii: ">") || c == UInt8(ascii: ",") || c == UInt8(ascii: ";") || blank(c) }
        func dropped(_ c: UInt8) -> Bool { lead(c) || trail(c) }
        var out: [[UInt8]] = []
        var i = 0
        while i < s.count {
            // Matched at i: an optional leading delimiter (required unless at the start).
            var j = i
            if lead(s[j]) { j += 1 } else if i != 0 { i += 1; continue }
            let local = j
            while j < s.count, !lead(s[j]), s[j] != UInt8(ascii: "@") { j += 1 }
            guard j > local, j < s.count, s[j] == UInt8(ascii: "@") else { i += 1; continue }
            j += 1
            let domain = j
            while j < s.count, !trail(s[j]) { j += 1 }
            guard j > domain else { i += 1; continue }
            if j < s.count { j += 1 }
            out.append(s[i..<j].filter { !dropped($0) })
            i = j
        }
        return out
    }

    /// `value` without every occurrence of `needle`.
    static func removing(_ needle: [UInt8], from value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < value.count {
            if i + needle.count <= value.count, Array(value[i..<(i + needle.count)]) == needle {
                i += needle.count
                if i < value.count, value[i] == UInt8(ascii: ";") { i += 1 }
                continue
            }
            out.append(value[i])
            i += 1
        }
        return out
    }

    /// Zeek's `split_mime_email_addresses`: the parts between commas (a quoted display name may
    /// hold commas), trimmed.
    static func splitAddresses(_ s: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\"")
        while i < s.count {
            func run(_ from: Int) -> Int {
                var k = from
                while k < s.count, s[k] != comma { k += 1 }
                return k - from
            }
            var length = run(i)
            if s[i] == quote, let close = s[(i + 1)...].firstIndex(of: quote) {
                let rest = run(close + 1)
                if rest > 0 { length = max(length, close + 1 - i + rest) }
            }
            guard length > 0 else { i += 1; continue }
            var part = s[i..<(i + length)]
            while let f = part.first, ASCII.isSpace(f) || f == 0x0d || f == 0x0a { part = part.dropFirst() }
            while let l = part.last, ASCII.isSpace(l) || l == 0x0d || l == 0x0a { part = part.dropLast() }
            if !out.contains(Array(part)) { out.append(Array(part)) }
            i += length
        }
        return out
    }

    /// Zeek's `extract_ip_addresses`: the IP addresses written in `s`, left to right, each the
    /// longest that parses at its position. `wrapped`: only those between `[]`, `()`, `{}` or
    /// spaces, or with nothing around them (Zeek's `check_wrapping`, used for Received).
    static func ipAddresses(_ s: [UInt8], wrapped: Bool) -> [IPAddress] {
        func candidate(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (ASCII.lower(c) >= 97 && ASCII.lower(c) <= 102) || c == UInt8(ascii: ":") || c == UInt8(ascii: ".") }
        var found: [(Range<Int>, IPAddress)] = []
        var i = 0
        while i < s.count {
            guard candidate(s[i]) else { i += 1; continue }
            var end = i
            while end < s.count, end - i < 45, candidate(s[end]) { end += 1 }
            var hit: (Int, IPAddress)?
            var k = end
            while k > i {
                if let a = parseIP(Array(s[i..<k])) { hit = (k, a); break }
                k -= 1
            }
            if let (k, a) = hit {
                found.append((i..<k, a))
                i = k
            } else {
                i += 1
            }
        }
        guard wrapped else { return found.map(\.1) }
        var out: [IPAddress] = []
        for (n, (range, a)) in found.enumerated() {
            let before = n == 0 ? 0 : found[n - 1].0.upperBound
            let after = n + 1 < found.count ? found[n + 1].0.lowerBound : s.count
            let p1 = s[before..<range.lowerBound], p3 = s[range.upperBound..<after]
            let pairs: [(UInt8, UInt8)] = [(0x5b, 0x5d), (0x28, 0x29), (0x7b, 0x7d), (0x20, 0x20)]
            if p1.isEmpty && p3.isEmpty {
                out.append(a)
            } else if let l = p1.last, let r = p3.first, pairs.contains(where: { $0 == (l, r) }) {
                out.append(a)
            }
        }
        return out
    }

    /// A dotted IPv4 address (octets of up to three digits) or an IPv6 address.
    static func parseIP(_ text: [UInt8]) -> IPAddress? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if parts.count == 4, !text.contains(UInt8(ascii: ":")) {
            var v: UInt32 = 0
            for p in parts {
                guard (1...3).contains(p.count), p.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
                let n = p.reduce(0) { $0 * 10 + Int($1 - 48) }
                guard n <= 255 else { return nil }
                v = v << 8 | UInt32(n)
            }
            return .v4(v)
        }
        guard text.contains(UInt8(ascii: ":")) else { return nil }
        var a = in6_addr()
        let ok = (text + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { inet_pton(AF_INET6, $0.baseAddress, &a) }
        }
        guard ok == 1 else { return nil }
        let bytes = withUnsafeBytes(of: a) { Array($0) }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for k in 0..<8 { hi = hi << 8 | UInt64(bytes[k]) }
        for k in 8..<16 { lo = lo << 8 | UInt64(bytes[k]) }
        return .v6(hi, lo)
    }
}
