import Findings
import SMTP
import ServerLog
import Vocabulary
import Sessions

/// The terminal timeline: one block per session, one line per command with its reply beside it,
/// transactions framed and closed with their outcome in words. Every byte from the capture is
/// escaped (see `Printable`).
public struct SessionText {
    public var color: Bool
    /// Width, time column, extra headers.
    public var layout: TextLayout

    public init(color: Bool, layout: TextLayout = TextLayout()) {
        self.color = color
        self.layout = layout
    }

    /// Which part of a session to render: all of it (offline), one transaction as soon as it is
    /// finished, or the rest when the session ends (live capture).
    public enum Part: Sendable, Equatable {
        case whole
        case transaction(Int)
        case closing
    }

    public func render(_ s: Session, transactions: [Transaction], captureName: String?, findings: [Finding] = [], part: Part = .whole) -> String {
        var out = ""
        func include(_ e: TimelineEntry) -> Bool {
            switch part {
            case .whole: return true
            case .transaction(let k): return e.transaction == k
            case .closing: return e.transaction == nil
            }
        }
        var marks: [Int: [Finding]] = [:]
        for f in findings { if let i = f.timelineIndex { marks[i, default: []].append(f) } }
        /// Lines read from decrypted TLS end with a small open lock.
        func unlocked(_ e: TimelineEntry) -> String { e.decrypted ? " " + dim("🔓") : "" }
        func mark(_ i: Int) -> String {
            guard let list = marks[i] else { return "" }
            return "  " + list.map { tag($0) }.joined(separator: " ")
        }
        let duration = s.end.seconds(since: s.start)
        var head = "session \(s.id)  \(s.client) → \(s.server)   \(layout.time.headline(s.start))   \(Self.seconds(duration))"
        if let helo = s.helo {
            head += "   \(s.heloVerb?.name ?? "HELO") " + (helo.isEmpty ? "(no name)" : layout.value(Array(helo.utf8), limit: 60))
        } else if let refused = s.heloRefused.last {
            head += "   HELO/EHLO " + (refused.name.isEmpty ? "(no name)" : layout.value(Array(refused.name.utf8), limit: 40)) + " refused (\(refused.code))"
        }
        if let captureName { head += "   [\(captureName)]" }
        if case .transaction(let k) = part { head += "   · transaction \(k)" }
        out += bold(head) + "\n"
        if !s.rolesFromHandshake {
            out += dim("  (capture starts mid-connection: client and server inferred)") + "\n"
        }
        if let p = s.proxy {
            out += dim("  (through \(Self.proxyName(p.kind)) proxy \(s.server) to " + Printable.escape(p.target) + (p.authenticated ? ", authenticated" : "") + ")") + "\n"
        }
        let txns = Dictionary(transactions.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        // Replies shown beside their command are skipped when reached.
        var replyFor: [Int: Int] = [:]  // command index -> timeline position of its reply
        for (i, e) in s.timeline.enumerated() {
            if case .reply(_, let answering?) = e.kind { replyFor[answering] = i }
        }
        var shown = Set<Int>()
        var groupSizes: [Int: Int] = [:]
        for e in s.timeline {
            if case .command(_, _, let g) = e.kind { groupSizes[g, default: 0] += 1 }
        }
        // Columns: the bar (4, the same inside and outside a transaction, so that replies line up),
        // the time, the side, the command, the reply, the delay. With a width, the command and the
        // reply share what the fixed parts leave, as 44 to 48 at 120 columns.
        let timeColumn = layout.time.column
        let fixed = 4 + timeColumn + 4 + 2 + 2 + 7
        let rest = layout.width.map { max(20, $0 - fixed) } ?? 92
        let commandColumn = rest * 44 / 92, replyColumn = rest - commandColumn
        /// What is left of the line after the bar, the time and the side.
        let room = (layout.width ?? 0) - (4 + timeColumn + 3)
        let captureStart = layout.captureStart?.time
        var openTxn: Int?
        // The server's log lines (--maillog), at their time on the capture's clock, between the
        // wire's lines; those after the last wire line follow it.
        let logLines: [LogLine] = part == .whole ? s.serverLog?.lines ?? [] : []
        var nextLog = 0
        func logLine(_ l: LogLine, bar: String) -> String {
            // A log line may come before the first packet: "-0.139", not "+-0.139".
            var stamp = layout.time.stamp(l.corrected, start: s.start, captureStart: captureStart)
            if stamp.hasPrefix("+-") { stamp.removeFirst() }
            return "\(bar)\(Columns.pad(stamp, timeColumn)) " + dim("L  " + Printable.short(Array(l.message.utf8), limit: 100)) + "\n"
        }
        for (i, e) in s.timeline.enumerated() where !shown.contains(i) && include(e) {
            while nextLog < logLines.count, logLines[nextLog].corrected < e.time {
                out += logLine(logLines[nextLog], bar: openTxn == nil ? "    " : "  │ ")
                nextLog += 1
            }
            if e.transaction != openTxn {
                if let t = openTxn { out += closeLine(txns[t]) }
                if let t = e.transaction { out += "  ┌ " + bold("transaction \(t)") + " " + String(repeating: "─", count: layout.width.map { min(60, max(10, $0 - 20)) } ?? 60) + "\n" }
                openTxn = e.transaction
            }
            let bar = openTxn == nil ? "    " : "  │ "
            let time = Columns.pad(layout.time.stamp(e.time, start: s.start, captureStart: captureStart), timeColumn)
            switch e.kind {
            case .command(let index, _, let group):
                let marker = (groupSizes[group] ?? 0) > 1 ? "»" : " "
                var line = "\(bar)\(time) C\(marker) " + Columns.pad(layout.value(e.line, limit: commandColumn), commandColumn)
                if let r = replyFor[index], r > i {
                    shown.insert(r)
                    let reply = s.timeline[r]
                    let text = layout.value(reply.line, limit: replyColumn)
                    line += "  " + Columns.pad(colorReply(text, code: code(of: reply)), replyColumn)
                    line += "  " + dim(Self.latency(reply.time.seconds(since: e.time)))
                    line += mark(r)
                }
                out += line + mark(i) + unlocked(e) + "\n"
            case .reply:
                out += "\(bar)\(time) S  " + colorReply(layout.value(e.line, limit: room), code: code(of: e)) + mark(i) + unlocked(e) + "\n"
            case .message:
                let t = txns[e.transaction ?? -1]
                out += "\(bar)\(time) C  " + layout.fit("▸ " + messageSummary(e, t), room) + mark(i) + unlocked(e) + "\n"
                // Headers asked for with --header, one line each under the message.
                for name in layout.headers {
                    for value in t?.headers?.extra[name.lowercased()] ?? [] {
                        let indent = bar + String(repeating: " ", count: timeColumn + 5)
                        out += indent + layout.fit(dim(name + ":") + " " + Printable.escape(value), room - 2) + "\n"
                    }
                }
                // Scanned parts that carry a file name, one line each, as a mail client lists attachments.
                for p in t?.parts ?? [] {
                    guard let name = p.filename else { continue }
                    let fields = ["📎 \"" + layout.value(Array(name.utf8), limit: 50) + "\"", Printable.escape(p.contentType), Self.size(p.size), "sha256 " + p.sha256.prefix(16) + "…"]
                    out += "\(bar)\(String(repeating: " ", count: timeColumn))    " + layout.fit(fields.joined(separator: "  ") + (p.complete ? "" : "  " + warn("incomplete")), room - 1) + "\n"
                }
            case .tls:
                out += "\(bar)\(time)    " + dim(layout.fit("🔒 " + Printable.escape(e.line), room)) + "\n"
            case .gap:
                out += "\(bar)\(time) \(e.side == .client ? "C" : "S")  " + warn(layout.fit("⚠ " + Printable.escape(e.line), room)) + mark(i) + "\n"
            case .note:
                out += "\(bar)\(time)    " + warn(layout.fit("⚠ " + Printable.escape(e.line), room)) + mark(i) + "\n"
            }
        }
        if let t = openTxn { out += closeLine(txns[t]) }
        while nextLog < logLines.count {
            out += logLine(logLines[nextLog], bar: "    ")
            nextLog += 1
        }
        if s.timelineDropped > 0 { out += "  … \(s.timelineDropped) more lines not kept (timeline limit)\n" }
        if case .transaction = part { return out }
        var tail = "  closed: " + (s.quitSent && s.close != .quit ? "QUIT sent, no 221 seen; " : "") + Self.closeWords(s.close)
        tail += " · \(s.transactions) transaction\(s.transactions == 1 ? "" : "s")"
        if s.starttls != .none { tail += " · STARTTLS \(s.starttls.rawValue)" }
        if let a = s.auth {
            tail += " · AUTH \(a.mechanism) \(a.result.rawValue)"
            var who: [String] = []
            if let u = a.user { who.append("user " + layout.value(Array(u.utf8), limit: 40)) }
            if let d = a.domain, !d.isEmpty { who.append("domain " + layout.value(Array(d.utf8), limit: 40)) }
            if let w = a.workstation, !w.isEmpty { who.append("workstation " + layout.value(Array(w.utf8), limit: 40)) }
            if let p = a.password { who.append("password " + layout.value(Array(p.utf8), limit: 60)) }
            if !who.isEmpty { tail += " (" + who.joined(separator: ", ") + ")" }
        }
        let gaps = s.gaps[0] + s.gaps[1], missing = s.gapBytes[0] + s.gapBytes[1]
        if gaps > 0 { tail += " · " + warn("\(Self.count(gaps, "gap")), \(Self.count(missing, "byte")) missing") }
        out += tail + "\n"
        if let log = s.serverLog, part == .whole { out += serverLogLine(log) + "\n" }
        let names = Array(Set(s.anomalies.map(\.name))).sorted().map(\.rawValue)
        if !names.isEmpty { out += "  anomalies: " + dim(names.joined(separator: ", ")) + "\n" }
        for f in findings.sorted(by: { ($1.severity, $0.time ?? .zero) < ($0.severity, $1.time ?? .zero) }) {
            out += "  " + tag(f) + "  " + Printable.escape(f.message) + dim("  [\(f.reference)]") + "\n"
        }
        return out
    }

    /// A finding's id (padded) coloured by its severity, without the symbol.
    public func tagless(_ f: Finding, _ padded: String) -> String {
        switch f.severity {
        case .problem: return bad(padded)
        case .warning: return warn(padded)
        case .info: return padded
        }
    }

    /// `⚠ id` coloured by severity.
    func tag(_ f: Finding) -> String {
        switch f.severity {
        case .problem: return bad("✖ " + f.id.rawValue)
        case .warning: return warn("⚠ " + f.id.rawValue)
        case .info: return dim("ℹ " + f.id.rawValue)
        }
    }

    private func code(of e: TimelineEntry) -> Int {
        if case .reply(let c, _) = e.kind { return c }
        return 0
    }

    private func messageSummary(_ e: TimelineEntry, _ t: Transaction?) -> String {
        var parts = [Self.size(t?.size ?? 0)]
        if t?.chunked == true { parts.append("(BDAT)") }
        if let subject = t?.headers?.subject { parts.append("\"" + layout.value(Array(subject.utf8), limit: 50) + "\"") }
        if let id = t?.headers?.messageID { parts.append(layout.value(Array(id.utf8), limit: 60)) }
        if t?.messageComplete == false { parts.append(warn("incomplete")) }
        return parts.joined(separator: "  ")
    }

    private func closeLine(_ t: Transaction?) -> String {
        guard let t else { return "  └\n" }
        var line = "  └ " + outcomeWords(t) + "\n"
        if let m = t.serverLog?.message { line += "    " + dim("server log: ") + fate(m) + "\n" }
        return line
    }

    /// What the server's log says became of a message: queued (or refused after all), then each
    /// recipient's delivery status.
    func fate(_ m: LogMessage) -> String {
        var parts: [String] = []
        if let r = m.rejected {
            parts.append(bad("refused") + " (" + Printable.short(Array(r.utf8), limit: 60) + ")")
        } else {
            parts.append("queue id " + Printable.short(Array(m.queueID.utf8), limit: 30))
        }
        for d in m.deliveries {
            let word = d.status == .sent ? good(d.status.rawValue) : d.status == .other ? d.status.rawValue : warn(d.status.rawValue)
            var text = Printable.short(Array(d.to.utf8), limit: 50) + " " + word
            let extra = [d.dsn, d.relay.map { "relay=" + $0 }].compactMap { $0 }
            if !extra.isEmpty { text += " (" + Printable.short(Array(extra.joined(separator: ", ").utf8), limit: 60) + ")" }
            parts.append(text)
        }
        if m.rejected == nil, m.deliveries.isEmpty { parts.append("no delivery logged") }
        return parts.joined(separator: " · ")
    }

    /// The session's line about the server's log: what matched it, and the clock offset.
    private func serverLogLine(_ log: SessionLog) -> String {
        guard let ls = log.session else { return "  " + dim("server log: no connection of this client at this time") }
        let client = "[" + (ls.client.address?.description ?? "?") + "]" + (ls.client.port.map { ":\($0)" } ?? "")
        let by: String
        switch log.key {
        case .queueID?: by = "its queue id"
        case .port?: by = "address and port"
        default: by = "address and time"
        }
        var line = "server log: \(ls.format.rawValue) connection from \(client), matched by \(by); log clock \(log.offset >= 0 ? "+" : "")" + Self.fixed(log.offset, 3) + " s"
        if let counts = ls.counts {
            line += "; counted " + counts.filter { $0.name != "commands" }.map { $0.accepted == $0.total ? "\($0.name)=\($0.total)" : "\($0.name)=\($0.accepted)/\($0.total)" }.joined(separator: " ")
        }
        return "  " + dim(Printable.escape(line))
    }

    /// One line that says how a transaction ended, in plain words.
    public func outcomeWords(_ t: Transaction) -> String {
        let recipients = Self.count(t.rcptTo.count, "recipient")
        let replyText = t.reply.map { layout.value($0.displayLine, limit: 70) } ?? ""
        switch t.outcome {
        case .queued:
            var s = good("queued") + (t.queueID.map { " as \(layout.value(Array($0.utf8), limit: 40))" } ?? "")
            s += " — \(recipients)"
            if let size = t.size { s += ", \(Self.size(size))" }
            if !t.rcptRejected.isEmpty { s += ", \(t.rcptRejected.count) refused" }
            return s
        case .rejected:
            return bad("rejected") + " — " + replyText
        case .reset:
            let by = t.resetBy.map { " by \($0.rawValue)" } ?? ""
            return warn("reset") + by + " — " + (t.rcptTo.isEmpty ? "no recipient accepted yet" : "\(recipients) accepted, no message sent")
        case .abandoned:
            return warn("abandoned") + " — the client left before the transaction completed"
        case .incomplete:
            let why: String
            if t.gapped {
                why = "part of it is missing from the capture"
            } else if t.size != nil {
                why = "the message was sent but no usable reply to it was seen"
            } else {
                why = "the capture ends before the transaction does"
            }
            return warn("incomplete") + " — " + why
        }
    }

    // MARK: - Formatting


    static func fixed(_ v: Double, _ decimals: Int) -> String { DurationText.digits(v, decimals) }

    /// A session's length: the one rule for durations (`DurationText`).
    static func seconds(_ s: Double) -> String { DurationText.format(s) }

    /// A reply's delay: the one rule for durations (`DurationText`).
    static func latency(_ s: Double) -> String { DurationText.format(s) }

    /// `1 recipient`, `2 recipients`.
    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func size(_ n: Int) -> String {
        if n < 1000 { return "\(n) B" }
        if n < 1_000_000 { return fixed(Double(n) / 1000, 1) + " kB" }
        return fixed(Double(n) / 1_000_000, 1) + " MB"
    }

    /// A proxy handshake as named in the session header.
    static func proxyName(_ kind: ProxyTunnel.Kind) -> String {
        switch kind {
        case .socks4: return "a SOCKS4"
        case .socks4a: return "a SOCKS4a"
        case .socks5: return "a SOCKS5"
        case .httpConnect: return "an HTTP CONNECT"
        }
    }

    static func closeWords(_ reason: CloseReason) -> String {
        switch reason {
        case .quit: return "QUIT"
        case .fin: return "connection closed (FIN) without QUIT"
        case .rst: return "connection reset (RST)"
        case .idle: return "idle timeout"
        case .captureEnd: return "still open when the capture ended"
        case .portReuse: return "port reused by a new connection"
        case .tableFull: return "connection table full"
        case .ignored: return reason.rawValue
        }
    }

    private func colorReply(_ s: String, code: Int) -> String {
        switch code / 100 {
        case 4: return warn(s)
        case 5: return bad(s)
        default: return s
        }
    }

    private func esc(_ code: String, _ s: String) -> String { color ? "\u{1b}[\(code)m\(s)\u{1b}[0m" : s }
    func bold(_ s: String) -> String { esc("1", s) }
    func dim(_ s: String) -> String { esc("2", s) }
    func good(_ s: String) -> String { esc("32", s) }
    func warn(_ s: String) -> String { esc("33", s) }
    func bad(_ s: String) -> String { esc("31", s) }
}
