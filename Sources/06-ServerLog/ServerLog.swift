import Vocabulary

/// One message in the server's queue, by queue id: what the log says about it.
public struct LogMessage: Sendable {
    public var queueID: String
    /// The log session that received it (nil when the log holds only its later lines).
    public var session: Int?
    public var messageID: String?
    public var from: String?
    public var size: Int?
    /// Delivery results per recipient, in log order: the message's fate after queueing.
    public var deliveries: [Delivery] = []
    /// The server refused the message after giving it a queue id (Postfix header/body checks and
    /// milters, Exim's DATA ACL): the line's reply text.
    public var rejected: String?
    /// Positions in `ServerLog.lines`, in log order.
    public var lines: [Int] = []

    /// One recipient's delivery result.
    public struct Delivery: Sendable {
        public var time: Timestamp
        public var to: String
        public var status: DeliveryStatus
        public var dsn: String?
        public var relay: String?
        /// The server's explanation (`250 2.0.0 Ok`, `Connection refused`, …).
        public var detail: String?
    }
}

/// One SMTP connection as the server logged it.
public struct LogSession: Sendable {
    public var format: LogFormat
    public var client = LogClient()
    public var host: String?
    /// First and last line of the connection itself (not of its messages' later delivery).
    public var start: Timestamp
    public var end: Timestamp
    /// The connection's own lines, then those of its messages (positions in `ServerLog.lines`, sorted).
    public var lines: [Int] = []
    /// Queue ids given to messages on this connection, in order.
    public var queueIDs: [String] = []
    /// Postfix's `disconnect from` counts (nil when the log has none).
    public var counts: [CommandCount]?
    /// Commands the server logged receiving, in order (Postfix `smtpd -v`, Exchange), with their line.
    public var commands: [(line: Int, text: String)] = []
    /// Replies the server logged sending (same sources).
    public var replies: [(line: Int, text: String)] = []
    /// Refusals (positions of the reject lines).
    public var rejects: [Int] = []
    /// The disconnect (or its equivalent) was logged.
    public var closed = false
    /// `lost connection after X`.
    public var lostAfter: String?
}

/// A mail server's log, read: every line that parsed, the connections and messages they tell of,
/// and how many lines were skipped. Pure: the files' bytes in, values out; a line that does not
/// parse is counted and skipped, never fatal.
public struct ServerLog: Sendable {
    public var lines: [LogLine] = []
    public var sessions: [LogSession] = []
    /// Messages by queue id.
    public var messages: [String: LogMessage] = [:]
    /// Lines that have none of the known forms (garbage, cut lines, another log's format).
    public var skipped = 0
    /// Lines of other programs in a syslog file (cron, the kernel…): read, not kept.
    public var otherPrograms = 0
    /// The first skipped line (file index, 1-based line number), to point the user at.
    public var firstSkipped: (file: Int, line: Int)?
    /// Formats seen, in the order first met.
    public var formats: [LogFormat] = []
    /// Some lines had no year (RFC 3164): they took one from `resolveYears`.
    public var yearless: Bool { lines.contains { $0.yearless != nil } }

    public init() {}

    /// Reads the files' text (one element per `--maillog` file).
    public static func parse(files: [[UInt8]]) -> ServerLog {
        var log = ServerLog()
        for (f, bytes) in files.enumerated() { log.read(file: f, bytes) }
        log.group()
        return log
    }

    private mutating func read(file: Int, _ bytes: [UInt8]) {
        var exchange = ExchangeReader()
        var number = 0
        for raw in bytes.split(separator: 0x0a, omittingEmptySubsequences: false) {
            number += 1
            var b = raw[...]
            if b.last == 0x0d { b = b.dropLast() }
            if b.isEmpty { continue }
            // Lines longer than any log writes are not log lines (and would cost time to scan).
            guard b.count <= 65_536 else { skip(file, number); continue }
            let text = String(decoding: b, as: UTF8.self)
            let line = text[...]
            if number == 1, line.hasPrefix("\u{FEFF}") { _ = exchange.header(line.dropFirst()); continue }
            if exchange.header(line) { continue }
            if exchange.hasFields {
                guard let row = exchange.row(line) else { skip(file, number); continue }
                var event = row.event
                var queueID: String?
                if case .reply(_, let r) = event, let id = Self.exchangeQueueID(r) { queueID = id }
                if case .other = event { event = .other }
                append(LogLine(file: file, number: number, time: row.time, corrected: row.time, wholeSeconds: row.whole, host: row.connector,
                               program: "MSExchange", pid: nil, queueID: queueID, text: text, message: row.summary, format: .exchange, event: event), group: "x|" + row.session)
                continue
            }
            guard let h = HeaderParser.parse(line) else { skip(file, number); continue }
            let program = h.program ?? ""
            let base = program.split(separator: "/").last.map(String.init) ?? program
            let format: LogFormat
            let parsed: (queueID: String?, event: LogEvent)
            if h.eximMainLog || base.hasPrefix("exim") {
                format = .exim
                parsed = EximMessage.parse(h.message)
            } else if program.hasPrefix("postfix") || program.contains("postfix/") {
                format = .postfix
                parsed = PostfixMessage.parse(h.message, program: base)
            } else if base == "sendmail" || base == "sm-mta" {
                format = .sendmail
                parsed = SendmailMessage.parse(h.message)
            } else {
                otherPrograms += 1
                continue
            }
            var l = LogLine(file: file, number: number, time: h.time, corrected: h.time, wholeSeconds: h.wholeSeconds, host: h.host, program: h.program,
                            pid: h.pid, queueID: parsed.queueID, text: text, message: String(h.message), format: format, event: parsed.event)
            l.yearless = h.yearless
            append(l, group: nil)
        }
    }

    /// Exchange names its queue item in the reply to the message: `[InternalId=1234, Hostname=…]`.
    static func exchangeQueueID(_ reply: String) -> String? {
        guard reply.hasPrefix("250"), let r = reply.firstRange(of: "InternalId=") else { return nil }
        let id = reply[r.upperBound...].prefix { $0.isASCIIDigit }
        return id.isEmpty ? nil : String(id)
    }

    private var groups: [String?] = []

    private mutating func append(_ line: LogLine, group: String?) {
        if !formats.contains(line.format) { formats.append(line.format) }
        lines.append(line)
        groups.append(group)
    }

    private mutating func skip(_ file: Int, _ number: Int) {
        skipped += 1
        if firstSkipped == nil { firstSkipped = (file, number) }
    }

    /// Gives lines without a year the year that puts them nearest `reference` (the capture's first
    /// session), then orders sessions' times again.
    public mutating func resolveYears(near reference: Timestamp) {
        guard yearless else { return }
        let year = Int(1970 + reference.nanoseconds / 1_000_000_000 / 31_556_952)
        for i in lines.indices {
            guard let y = lines[i].yearless else { continue }
            var best: Timestamp?
            for candidate in [year - 1, year, year + 1] {
                guard let day = HeaderParser.civilTime(year: candidate, month: y.month, day: y.day, hour: 0, minute: 0, second: 0, nanos: 0) else { continue }
                let t = Timestamp(nanoseconds: day.nanoseconds &+ y.nanos)
                if let b = best, abs(b.seconds(since: reference)) <= abs(t.seconds(since: reference)) { continue }
                best = t
            }
            if let best {
                lines[i].time = best
                lines[i].corrected = best
            }
        }
        for k in sessions.indices { times(&sessions[k]) }
        for (id, m) in messages {
            var m = m
            for d in m.deliveries.indices {
                if let line = m.lines.first(where: { if case .delivery(let to, _, _, _, _) = lines[$0].event { return to == m.deliveries[d].to } else { return false } }) {
                    m.deliveries[d].time = lines[line].time
                }
            }
            messages[id] = m
        }
    }

    private func times(_ s: inout LogSession) {
        let own = s.lines.filter { lines[$0].queueID == nil || s.queueIDs.isEmpty || isConnectionLine(lines[$0]) }
        s.start = own.map { lines[$0].time }.min() ?? s.start
        s.end = own.map { lines[$0].time }.max() ?? s.end
    }

    private func isConnectionLine(_ l: LogLine) -> Bool {
        switch l.event {
        case .client, .arrival: return true
        case .reject(let stage, _, _, _, _, _): return stage != "header" && stage != "body"
        default: return l.format == .exchange || l.format == .sendmail && l.pid != nil
        }
    }

    /// Puts lines together into connections (Postfix: one smtpd process from `connect` to
    /// `disconnect`; Sendmail: one process; Exim: the client's address and port; Exchange: the
    /// session id) and messages (queue id).
    private mutating func group() {
        var open: [String: Int] = [:]  // connection key -> session
        var sessionOfMessage: [String: Int] = [:]
        for i in lines.indices {
            let l = lines[i]
            var key: String?
            switch l.format {
            case .postfix:
                if let p = l.program, p.hasSuffix("smtpd"), let pid = l.pid { key = "p|\(l.host ?? "")|\(p)|\(pid)" }
            case .sendmail:
                if let pid = l.pid { key = "s|\(l.host ?? "")|\(pid)" }
            case .exim:
                if let c = clientOf(l.event), let a = c.address { key = "e|\(l.host ?? "")|\(a)|\(c.port.map(String.init) ?? "-")" }
                if key == nil, let id = l.queueID, let s = sessionOfMessage[id] { key = sessions[s].client.address.map { "e|\(l.host ?? "")|\($0)|\(sessions[s].client.port.map(String.init) ?? "-")" } }
            case .exchange:
                key = groups[i]
            }
            // A line of a message already placed belongs to the message (delivery, removal…).
            if let id = l.queueID, messages[id] != nil, !startsConnection(l) {
                messages[id]?.lines.append(i)
                note(l, i, inMessage: id)
                if let s = messages[id]?.session {
                    sessions[s].lines.append(i)
                    if case .reject(let stage, _, _, _, _, _) = l.event, stage != "header", stage != "body" { sessions[s].rejects.append(i) }
                }
                continue
            }
            var s: Int?
            if let key {
                if case .connect = l.event { open[key] = nil }
                if let k = open[key] {
                    s = k
                } else if startsConnection(l) || l.queueID != nil || clientOf(l.event) != nil {
                    sessions.append(LogSession(format: l.format, host: l.host, start: l.time, end: l.time))
                    s = sessions.count - 1
                    open[key] = s
                }
            }
            if let s {
                sessions[s].lines.append(i)
                if let c = clientOf(l.event) { merge(c, into: &sessions[s].client) }
                switch l.event {
                case .disconnect(_, let counts):
                    if !counts.isEmpty { sessions[s].counts = counts }
                    sessions[s].closed = true
                    if let key { open[key] = nil }
                case .lostConnection(_, let after):
                    sessions[s].lostAfter = after
                    if l.format == .postfix || l.format == .exim { sessions[s].closed = true }
                case .command(_, let text): sessions[s].commands.append((i, text))
                case .reply(_, let text): sessions[s].replies.append((i, text))
                case .reject: sessions[s].rejects.append(i)
                default: break
                }
            }
            if let id = l.queueID {
                if messages[id] == nil {
                    messages[id] = LogMessage(queueID: id, session: s)
                    if let s, !sessions[s].queueIDs.contains(id) { sessions[s].queueIDs.append(id) }
                    sessionOfMessage[id] = s
                }
                messages[id]?.lines.append(i)
                note(l, i, inMessage: id)
            }
        }
        for k in sessions.indices {
            sessions[k].lines.sort()
            times(&sessions[k])
        }
        groups = []
    }

    private func startsConnection(_ l: LogLine) -> Bool {
        if case .connect = l.event { return true }
        return false
    }

    private mutating func note(_ l: LogLine, _ i: Int, inMessage id: String) {
        switch l.event {
        case .messageID(let m): messages[id]?.messageID = m
        case .arrival(let from, let size, let client, let mid):
            messages[id]?.from = from
            if let size { messages[id]?.size = size }
            if let mid { messages[id]?.messageID = mid }
            if let c = client, let s = messages[id]?.session { merge(c, into: &sessions[s].client) }
        case .delivery(let to, let status, let dsn, let relay, let detail):
            messages[id]?.deliveries.append(LogMessage.Delivery(time: l.time, to: to, status: status, dsn: dsn, relay: relay, detail: detail))
        case .reject(let stage, _, let text, _, let from, _) where stage == "header" || stage == "body" || stage == "END-OF-MESSAGE" || stage == "DATA":
            messages[id]?.rejected = text
            if messages[id]?.from == nil, let from { messages[id]?.from = from }
        default: break
        }
    }

    private func clientOf(_ e: LogEvent) -> LogClient? {
        switch e {
        case .connect(let c), .disconnect(let c, _), .client(let c): return c
        case .lostConnection(let c, _), .command(let c, _), .reply(let c, _): return c
        case .arrival(_, _, let c, _), .reject(_, _, _, let c, _, _): return c
        default: return nil
        }
    }

    private func merge(_ c: LogClient, into s: inout LogClient) {
        if s.address == nil { s.address = c.address }
        if s.port == nil { s.port = c.port }
        if s.name == nil { s.name = c.name }
    }
}
