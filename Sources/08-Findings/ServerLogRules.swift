import SMTP
import ServerLog
import Sessions
import Vocabulary

/// Where the mail server's log and the wire disagree (`read --maillog`).
extension Rules {
    mutating func serverLog() {
        guard let log = s.serverLog, let ls = log.session else { return }
        commandCounts(ls, log.lines)
        for t in txns { transactionLog(t) }
    }

    /// The names Postfix counts commands by (smtpd's command table); `unknown` for the others.
    static func countName(_ v: Verb) -> String? {
        switch v {
        case .endOfData, .authResponse: return nil
        case .expn, .help, .other: return "unknown"
        default: return v.name.lowercased()
        }
    }

    /// The capture holds the whole dialogue: every command of the client is on the wire.
    private var wireComplete: Bool {
        guard s.rolesFromHandshake, s.gaps == [0, 0], s.timelineDropped == 0, s.close != .captureEnd else { return false }
        if s.starttls == .started || s.starttls == .implicit { return s.tls?.decrypted == true }
        return true
    }

    private mutating func commandCounts(_ ls: LogSession, _ lines: [LogLine]) {
        guard wireComplete else { return }
        var wire: [String: Int] = [:]
        for c in commands { if let n = Self.countName(c.verb) { wire[n, default: 0] += 1 } }
        var logged: [String: Int] = [:]
        var firstExtra: Timestamp?
        let source: String
        if !ls.commands.isEmpty {
            // Each line the server read: known verbs only (AUTH responses and the like are not commands).
            var seen: [String: Int] = [:]
            for l in lines {
                guard case .command(_, let text) = l.event else { continue }
                let verb = Verb(Array(text.utf8.prefix { $0 != 0x20 }))
                guard let n = Self.countName(verb), n != "unknown" else { continue }
                logged[n, default: 0] += 1
                seen[n, default: 0] += 1
                if firstExtra == nil, seen[n, default: 0] > wire[n, default: 0] {
                    firstExtra = l.corrected
                }
            }
            wire["unknown"] = nil
            source = "the lines it logged reading them"
        } else if let counts = ls.counts, ls.closed {
            for c in counts where c.name != "commands" { logged[c.name] = c.total }
            source = "its count at disconnect: " + counts.filter { $0.name != "commands" }.map { $0.accepted == $0.total ? "\($0.name)=\($0.total)" : "\($0.name)=\($0.accepted)/\($0.total)" }.joined(separator: " ")
        } else {
            return
        }
        let names = Set(wire.keys).union(logged.keys).sorted { order($0) < order($1) }
        let extra = names.compactMap { n -> (String, Int)? in let d = logged[n, default: 0] - wire[n, default: 0]; return d > 0 ? (n, d) : nil }
        let missing = names.compactMap { n -> (String, Int)? in let d = wire[n, default: 0] - logged[n, default: 0]; return d > 0 ? (n, d) : nil }
        let sent = names.filter { wire[$0, default: 0] > 0 }.map { "\($0)=\(wire[$0, default: 0])" }.joined(separator: " ")
        let port = ls.client.port.flatMap { $0 != s.client.port ? " The server saw the connection come from port \($0); the client used \(s.client.port): the middlebox opened a connection of its own." : nil } ?? ""
        if !extra.isEmpty {
            let list = extra.map { "\($0.1) \(wire[$0.0, default: 0] > 0 ? "more " : "")\($0.0.uppercased())" }.joined(separator: ", ")
            out.append(Finding(id: .logCommandsNotSent, severity: Catalog.entry(.logCommandsNotSent).severity, time: firstExtra ?? s.start,
                               message: "the server's log shows commands this capture's client never sent: \(list) (server: \(source); the client sent \(sent)): something between this capture point and the server spoke SMTP to the server in the client's name — an intercepting proxy or scanner." + port,
                               session: s.id))
        }
        if !missing.isEmpty {
            let list = missing.map { "\($0.1) \($0.0.uppercased())" }.joined(separator: ", ")
            out.append(Finding(id: .logCommandsNotReceived, severity: Catalog.entry(.logCommandsNotReceived).severity, time: s.start,
                               message: "the client sent \(list) that the server's log does not count (server: \(source)): something between them answered \(missing.count == 1 ? "it" : "them") itself",
                               session: s.id))
        }
    }

    /// Postfix's order of the disconnect summary, for readable lists.
    private func order(_ name: String) -> Int {
        ["helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "quit", "unknown"].firstIndex(of: name) ?? 99
    }

    private mutating func transactionLog(_ t: Transaction) {
        guard let tl = t.serverLog, let m = tl.message else { return }
        let by = tl.key == "queue-id" ? "its queue id" : tl.key == "message-id" ? "its Message-ID" : "its envelope"
        let reply = t.reply.map { "\"" + Printable.short($0.displayLine, limit: 60) + "\"" } ?? "a 250"
        func add(_ id: FindingID, _ message: String, at time: Timestamp? = nil) {
            out.append(Finding(id: id, severity: Catalog.entry(id).severity, time: time ?? t.end, message: "transaction \(t.index): " + message, session: s.id, transaction: t.index))
        }
        if t.outcome == .queued {
            if let r = m.rejected {
                add(.logOutcomeDiffers, "the client was told \(reply), but the server refused this message (queue id \(m.queueID), found by \(by)): \(Printable.short(Array(r.utf8), limit: 80)). The sender believes it delivered; no bounce will come")
            } else if let q = t.queueID, q != m.queueID {
                add(.logReplyNotFromServer, "the client's 250 names queue id \(Printable.short(Array(q.utf8), limit: 30)); the server queued this message (found by \(by)) as \(m.queueID): the 250 the client got was not the server's")
            } else if t.queueID == nil, let queued = queuedAt(m, tl), queued.seconds(since: t.end) > 1.0 + (wholeSeconds(tl) ? 1.0 : 0) {
                add(.logReplyNotFromServer, "the client was told \(reply) at \(t.end.humanUTC), but the server queued this message (as \(m.queueID), found by \(by)) \(SessionTextSeconds.format(queued.seconds(since: t.end))) later: the 250 was written by something between client and server, which delivered the message afterwards",
                    at: t.end)
            }
        } else if t.outcome == .rejected, m.rejected == nil, tl.key != "envelope" {
            add(.logOutcomeDiffers, "the client was refused (\(reply)), but the server queued this message as \(m.queueID) (found by \(by))")
        }
        for d in m.deliveries where d.status == .deferred || d.status == .bounced {
            add(.logDeliveryFailed, "after queueing (as \(m.queueID)), the server's delivery to \(Printable.short(Array(d.to.utf8), limit: 50)) was \(d.status.rawValue)" + (d.detail.map { ": " + Printable.short(Array($0.utf8), limit: 80) } ?? ""), at: d.time)
        }
    }

    /// When the server took the message: its arrival line (Postfix qmgr `from=`, Exim `<=`,
    /// Sendmail `from=`), or its last line before any delivery.
    private func queuedAt(_ m: LogMessage, _ tl: TransactionLog) -> Timestamp? {
        let own = tl.lines.filter { $0.queueID == m.queueID }
        if let a = own.first(where: { if case .arrival = $0.event { return true } else { return false } }) { return a.corrected }
        return own.last(where: { if case .delivery = $0.event { return false } else { return true } })?.corrected
    }

    private func wholeSeconds(_ tl: TransactionLog) -> Bool { tl.lines.contains { $0.wholeSeconds } }
}

enum SessionTextSeconds {
    static func format(_ s: Double) -> String {
        let tenths = Int((s * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
