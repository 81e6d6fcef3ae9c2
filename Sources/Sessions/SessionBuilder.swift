import SMTP
import ScopeCore

/// Builds a `Session` and its `Transaction`s from one connection's decoded dialogue.
///
/// Transactions start at MAIL and end when their fate is known: the reply to the end of data (or
/// the last BDAT), a refusal, RSET / EHLO / HELO / STARTTLS (reset, RFC 5321 §4.1.4), QUIT, or the
/// connection's end. With PIPELINING the closing command may be sent before earlier replies arrive,
/// so a closed transaction is finished only once every command in it has its reply (or never will).
public final class SessionBuilder {
    public struct Limits: Sendable {
        /// Timeline lines kept per session; further lines are counted, not stored.
        public var maxTimelineEntries = 20_000
        /// Recipients listed per transaction; further ones are counted.
        public var maxRecipients = 10_000
        public init() {}
    }

    public let decoder: SMTPDecoder
    public let limits: Limits
    public private(set) var session: Session
    /// Transactions finished since the last `takeFinished()`.
    private var finished: [Transaction] = []

    /// Why an open transaction stopped taking commands.
    enum Closer {
        case command(Verb)
        case messageReply
        case connectionEnd(String)
    }

    struct Open {
        var txn: Transaction
        var closer: Closer?
        /// Command indices in this transaction still waiting for their reply.
        var outstanding: Set<Int> = []
        var mailReply: Reply?
        var dataReply: Reply?
        var messageReply: Reply?
        var rcptAddresses: [Int: String] = [:]
        var lastRcptRejection: Reply?
        var rcptCount = 0
        var messageSent = false
    }

    private var open: [Open] = []
    private var current: Int?  // index into `open` of the transaction taking commands
    private var owner: [Int: Int] = [:]  // command index -> transaction index (1-based)
    private var commandVerbs: [Int: Verb] = [:]
    private var pendingSession: Set<Int> = []
    private var txnCount = 0
    private var tls = false

    public init(session: Session, decoderOptions: SMTPDecoder.Options = .init(), limits: Limits = .init()) {
        self.session = session
        self.limits = limits
        self.decoder = SMTPDecoder(options: decoderOptions)
        if decoderOptions.implicitTLS {
            self.session.starttls = .implicit
            tls = true
        }
    }

    // MARK: - Input

    public func receive(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8 = 0, ipID: UInt16? = nil) {
        session.bytes[Int(direction.rawValue)] += bytes.count
        session.end = max(session.end, time)
        decoder.receive(direction, bytes, at: time, ttl: ttl, ipID: ipID)
        drain()
    }

    public func gap(_ direction: Direction, length: Int, at time: Timestamp) {
        let d = Int(direction.rawValue)
        session.gaps[d] += 1
        session.gapBytes[d] += length
        decoder.gap(direction, length: length, at: time)
        drain()
    }

    /// The connection ended for `reason` (a TCP close reason). Returns the finished session.
    public func close(reason: String, at time: Timestamp) -> Session {
        decoder.finish(at: time)
        drain()
        session.end = max(session.end, time)
        if session.close != "quit" { session.close = reason }
        for i in open.indices where open[i].closer == nil { open[i].closer = .connectionEnd(reason) }
        // Whatever is still unanswered will never be.
        let unanswered = pendingSession.count + open.reduce(0) { $0 + $1.outstanding.count }
        if unanswered > 0, !tls, session.bytes[1] > 0 {
            note(Anomaly("commands-never-answered", "\(unanswered) command(s) got no reply before the connection ended", at: time))
        }
        for i in open.indices { open[i].outstanding.removeAll() }
        finishReady(at: time)
        return session
    }

    /// Transactions finished since the last call, in the order they finished.
    public func takeFinished() -> [Transaction] {
        defer { finished.removeAll(keepingCapacity: true) }
        return finished
    }

    // MARK: - Events

    private func drain() {
        for event in decoder.takeEvents() { handle(event) }
    }

    private func handle(_ event: SMTPEvent) {
        switch event {
        case .command(let cmd): command(cmd)
        case .reply(let reply, let index, let verb): self.reply(reply, answering: index, verb: verb)
        case .messageStarted: break
        case .messageEnded(let m): messageEnded(m)
        case .tlsStarted(let t):
            tls = true
            if session.starttls != .implicit { session.starttls = .started }
            add(TimelineEntry(time: t, side: .client, kind: .tls, line: Array("TLS started: the rest of the session is encrypted".utf8), transaction: nil))
        case .gap(let dir, let length, let t):
            let side: Side = dir == .toServer ? .client : .server
            add(TimelineEntry(time: t, side: side, kind: .gap(length: length), line: Array("gap: \(length) bytes missing from the capture".utf8), transaction: currentNumber))
            if let c = current { open[c].txn.gapped = true }
        case .anomaly(let a): note(a)
        }
    }

    private var currentNumber: Int? { current.map { open[$0].txn.index } }

    private func command(_ cmd: Command) {
        commandVerbs[cmd.index] = cmd.verb
        switch cmd.verb {
        case .mail:
            if let c = current {
                note(Anomaly("nested-mail", "MAIL sent inside an open transaction (RFC 5321 §4.1.1.2 requires RSET first)", at: cmd.time))
                if open[c].closer == nil { open[c].closer = .command(.mail) }
            }
            startTransaction(cmd)
        case .helo, .ehlo, .rset, .quit, .starttls:
            if cmd.verb == .helo || cmd.verb == .ehlo {
                session.helo = cmd.argument ?? ""
                session.heloVerb = cmd.verb
            }
            if cmd.verb == .rset, let c = current {
                attach(cmd, to: c)
                open[c].closer = .command(.rset)
                current = nil
                return
            }
            if let c = current {
                open[c].closer = .command(cmd.verb)
                current = nil
            }
        case .auth:
            session.auth = AuthInfo(mechanism: cmd.argument ?? "", user: cmd.authUser, result: "unknown")
        case .authResponse:
            if let user = cmd.authUser { session.auth?.user = user }
            if cmd.argument == "*" { session.auth?.result = "cancelled" }
        case .bdat:
            if let c = current { open[c].txn.chunked = true }
            if cmd.last { lastChunks.insert(cmd.index) }
        default:
            break
        }
        if let c = current, cmd.verb != .quit {
            attach(cmd, to: c)
            if cmd.verb == .rcpt {
                open[c].rcptCount += 1
                if open[c].rcptCount <= limits.maxRecipients { open[c].rcptAddresses[cmd.index] = cmd.address ?? "" }
            }
            if cmd.verb == .data || cmd.verb == .bdat { open[c].messageSent = true }
        } else {
            pendingSession.insert(cmd.index)
            add(entry(cmd, transaction: nil))
        }
    }

    private func startTransaction(_ cmd: Command) {
        txnCount += 1
        session.transactions = txnCount
        var t = Transaction(index: txnCount, session: session.id, start: cmd.time, end: cmd.time)
        t.helo = session.helo
        t.mailFrom = cmd.address
        t.mailParameters = cmd.parameters
        t.tls = tls
        open.append(Open(txn: t))
        current = open.count - 1
    }

    private func attach(_ cmd: Command, to c: Int) {
        owner[cmd.index] = open[c].txn.index
        open[c].outstanding.insert(cmd.index)
        open[c].txn.end = max(open[c].txn.end, cmd.time)
        add(entry(cmd, transaction: open[c].txn.index))
    }

    private func entry(_ cmd: Command, transaction: Int?) -> TimelineEntry {
        TimelineEntry(time: cmd.time, side: .client, kind: .command(index: cmd.index, verb: cmd.verb, group: cmd.group), line: cmd.line, transaction: transaction)
    }

    private func reply(_ reply: Reply, answering index: Int?, verb: Verb?) {
        let txnNumber = index.flatMap { owner[$0] }
        let line = reply.displayLine
        add(TimelineEntry(time: reply.time, side: .server, kind: .reply(code: reply.code, answering: index), line: line, transaction: txnNumber))
        guard let index else {
            if session.banner == nil, verb == nil { session.banner = reply }
            finishReady(at: reply.time)
            return
        }
        pendingSession.remove(index)
        switch verb {
        case .ehlo?:
            if reply.code / 100 == 2 {
                session.extensions = reply.lines.dropFirst().map { String(decoding: $0, as: UTF8.self) }
                if session.starttls == .none, session.extensions.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) {
                    session.starttls = .offered
                }
            }
        case .starttls?:
            if reply.code != 220 { session.starttls = .refused }
        case .auth?, .authResponse?:
            if reply.code == 235 { session.auth?.result = "success" } else if reply.code >= 400 { session.auth?.result = "failure" }
        case .quit?:
            if reply.code == 221 { session.close = "quit" }
        default:
            break
        }
        if let n = txnNumber, let c = open.firstIndex(where: { $0.txn.index == n }) {
            open[c].outstanding.remove(index)
            open[c].txn.end = max(open[c].txn.end, reply.time)
            switch verb {
            case .mail?:
                open[c].mailReply = reply
            case .rcpt?:
                let address = open[c].rcptAddresses.removeValue(forKey: index) ?? ""
                if open[c].rcptCount <= limits.maxRecipients {
                    if reply.code / 100 == 2 {
                        open[c].txn.rcptTo.append(address)
                    } else {
                        open[c].txn.rcptRejected.append(RejectedRecipient(address: address, code: reply.code))
                    }
                }
                if reply.code >= 400 { open[c].lastRcptRejection = reply }
            case .data?:
                open[c].dataReply = reply
            case .endOfData?:
                open[c].messageReply = reply
                open[c].closer = .messageReply
                if current == c { current = nil }
            case .bdat?:
                if reply.code >= 400 || lastChunks.contains(index) {
                    open[c].messageReply = reply
                    open[c].closer = .messageReply
                    if current == c { current = nil }
                }
            default:
                break
            }
        }
        finishReady(at: reply.time)
    }

    /// Indices of `BDAT … LAST` commands: their reply decides the message.
    private var lastChunks: Set<Int> = []

    private func messageEnded(_ m: MessageInfo) {
        guard let c = current ?? open.indices.last else { return }
        open[c].txn.size = m.size
        open[c].txn.messageComplete = m.complete
        open[c].txn.headers = m.headers
        open[c].messageSent = true
        var summary = "message \(m.size) octets"
        if !m.complete { summary += " (incomplete: part of it is missing from the capture)" }
        add(TimelineEntry(time: m.endTime, side: .client, kind: .message, line: Array(summary.utf8), transaction: open[c].txn.index))
    }

    // MARK: - Finishing

    /// Finishes, in order, the transactions that are closed and have all their replies.
    private func finishReady(at time: Timestamp) {
        while let first = open.first, first.closer != nil, first.outstanding.isEmpty {
            var o = open.removeFirst()
            if let c = current { current = c > 0 ? c - 1 : nil }
            decide(&o)
            finished.append(o.txn)
        }
    }

    private func decide(_ o: inout Open) {
        var t = o.txn
        if let r = o.messageReply {
            t.reply = r
            t.outcome = r.code / 100 == 2 ? .queued : .rejected
            if t.outcome == .queued { t.queueID = QueueID.extract(r.text) ?? QueueID.extract(r.lines.map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")) }
        } else if let r = o.mailReply, r.code >= 400 {
            t.reply = r
            t.outcome = .rejected
        } else if o.rcptCount > 0, t.rcptTo.isEmpty, t.rcptRejected.count == o.rcptCount {
            t.reply = o.lastRcptRejection
            t.outcome = .rejected
        } else if let r = o.dataReply, r.code >= 400 {
            t.reply = r
            t.outcome = .rejected
        } else {
            switch o.closer {
            case .command(let verb)?:
                switch verb {
                case .quit: t.outcome = .abandoned
                default: t.outcome = .reset
                }
            case .connectionEnd(let reason)?:
                t.outcome = (reason == "capture-end" || reason == "idle" || t.gapped) ? .incomplete : .abandoned
            case .messageReply?, nil:
                t.outcome = .incomplete
            }
            t.reply = o.dataReply ?? o.mailReply
        }
        if t.gapped, t.outcome != .queued, t.outcome != .rejected { t.outcome = .incomplete }
        o.txn = t
    }

    // MARK: - Helpers

    private func add(_ e: TimelineEntry) {
        if session.timeline.count < limits.maxTimelineEntries {
            session.timeline.append(e)
        } else {
            session.timelineDropped += 1
        }
    }

    private func note(_ a: Anomaly) {
        if let c = current {
            open[c].txn.anomalies.append(a)
        }
        session.anomalies.append(a)
    }

}
