import Foundation
import SMTP
import TLS
import Vocabulary

/// Builds a `Session` and its `Transaction`s from one connection's decoded dialogue.
///
/// Transactions start at MAIL and end when their fate is known: the reply to the end of data (or
/// the last BDAT), a refusal, RSET / EHLO / HELO / STARTTLS (reset, RFC 5321 §4.1.4), QUIT, or the
/// connection's end. With PIPELINING the closing command may be sent before earlier replies arrive,
/// so a closed transaction is finished only once every command in it has its reply (or never will).
public final class SessionBuilder {
    public struct Limits: Sendable {
        /// Timeline lines kept per session; further lines are counted, not stored.
        public var maxTimelineEntries = DefaultLimits.timelineEntries
        /// Recipients listed per transaction; further ones are counted.
        public var maxRecipients = DefaultLimits.recipients
        public init() {}
    }

    public let decoder: SMTPDecoder
    public let limits: Limits
    public private(set) var session: Session
    /// Transactions finished since the last `takeFinished()`.
    private var finished: [Transaction] = []

    /// Why an open transaction stopped taking commands.
    enum Closer {
        /// Reset by a command: RSET, an accepted EHLO/HELO or STARTTLS, or a new MAIL after a refused one.
        case reset(Transaction.ResetCause)
        case quit
        /// The message was sent (end of data, or the last BDAT): its reply decides.
        case messageSent
        case connectionEnd(CloseReason)
    }

    struct Open {
        var txn: Transaction
        var closer: Closer?
        var closerReply: Reply?
        var closerIndex: Int?
        /// Command indices in this transaction still waiting for their reply.
        var outstanding: Set<Int> = []
        var mailReply: Reply?
        var dataReply: Reply?
        var messageReply: Reply?
        var rcptAddresses: [Int: String] = [:]
        var lastRcptRejection: Reply?
        var rcptCount = 0
        var messageSent = false
        /// The index of the MAIL command that began it.
        var mailIndex: Int
        /// A MAIL sent inside this open transaction, waiting for its reply (normally 503).
        var nestedMail: Command?
    }

    private var open: [Open] = []
    private var current: Int?  // index into `open` of the transaction taking commands
    private var owner: [Int: Int] = [:]  // command index -> transaction index (1-based)
    private var pendingSession: Set<Int> = []
    /// HELO/EHLO/STARTTLS commands awaiting the reply that decides whether they reset the envelope.
    private var pendingReset: [Int: (Verb, String)] = [:]
    private var txnCount = 0
    private var tls = false
    private var startTLSAccepted = false
    private var lastHeloSent: String?

    /// Secrets to decrypt TLS with (nil: the handshake is read, the rest stays opaque).
    public let keyLog: KeyLogStore?
    /// The stream transform between reassembly and the decoder: nil until the decoder reports
    /// that both sides switched to TLS; from then on every byte goes through it, and only the
    /// clear bytes it recovers reach the decoder. Clear-text sessions never have one.
    private var transform: TLSConnection?
    /// The decoder was told the stream switched and now reads the clear bytes inside TLS.
    private var switched = false
    /// Per direction: TLS can no longer be followed (a gap broke its records).
    private var transformLost = [false, false]
    /// The timeline line saying TLS started: it becomes the handshake's line when the session closes.
    private var tlsLine: Int?

    public init(session: Session, decoderOptions: SMTPDecoder.Options = .init(), limits: Limits = .init(), keyLog: KeyLogStore? = nil) {
        self.session = session
        self.limits = limits
        self.keyLog = keyLog
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
        if let transform {
            throughTransform(transform, direction, bytes, at: time)
            return
        }
        decoder.receive(direction, bytes, at: time, ttl: ttl, ipID: ipID)
        drain()
        if decoder.tlsBegan { startTransform() }
    }

    public func gap(_ direction: Direction, length: Int, at time: Timestamp) {
        let d = Int(direction.rawValue)
        session.gaps[d] += 1
        session.gapBytes[d] += length
        if transform != nil { transformLost[d] = true }
        decoder.gap(direction, length: length, at: time)
        drain()
        if transform != nil {
            _ = decoder.takeHandedBack()
        } else if decoder.tlsBegan {
            startTransform()
        }
    }

    // MARK: - The stream transform

    /// Both sides switched to TLS: the bytes the decoder read as TLS go to a TLS connection, and
    /// so does everything after.
    private func startTransform() {
        let t = TLSConnection(keyLog: keyLog)
        transform = t
        for h in decoder.takeHandedBack() {
            switch h {
            case .bytes(let direction, let bytes, let time):
                bytes.withUnsafeBytes { throughTransform(t, direction, $0, at: time) }
            case .gap(let direction, _, _):
                transformLost[Int(direction.rawValue)] = true
            }
        }
    }

    private func throughTransform(_ t: TLSConnection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp) {
        guard !transformLost[Int(direction.rawValue)] else { return }
        for e in t.receive(bytes, from: direction, at: time) { handle(e) }
        drain()
    }

    private func handle(_ event: TLSEvent) {
        switch event {
        case .applicationData(let bytes, let direction, let time):
            if !switched {
                switched = true
                decoder.streamSwitched(implicit: session.starttls == .implicit)
            }
            bytes.withUnsafeBytes { decoder.receive(direction, $0, at: time) }
            drain()
        case .anomaly(let a, _):
            note(a)
        default:
            break
        }
    }

    /// The connection ended for `reason` (a TCP close reason). Returns the finished session.
    public func close(reason: CloseReason, at time: Timestamp) -> Session {
        if transform == nil {
            decoder.decideHeld()
            drain()
            if decoder.tlsBegan { startTransform() }
        }
        if let transform {
            for e in transform.finish(closed: reason == .fin || reason == .rst, at: time) { handle(e) }
            session.tls = Self.facts(transform.summary)
            if let i = tlsLine, let facts = session.tls { session.timeline[i].line = Array(Self.handshakeLine(facts).utf8) }
        }
        decoder.finish(at: time)
        drain()
        session.end = max(session.end, time)
        if session.close != .quit { session.close = reason }
        for i in open.indices where open[i].closer == nil { open[i].closer = .connectionEnd(reason) }
        // Past TLS that was not decrypted, nothing can be said of the dialogue.
        let opaque = tls && !switched
        if session.bytes[1] == 0, session.bytes[0] > 0, !opaque {
            if session.helo == nil { session.helo = lastHeloSent }
            note(Anomaly(.serverSideMissing, "the capture holds only the client's side of the connection; no reply can be matched", at: time))
        }
        // Whatever is still unanswered will never be.
        let unanswered = pendingSession.count + open.reduce(0) { $0 + $1.outstanding.count }
        if unanswered > 0, !opaque, session.bytes[1] > 0 {
            note(Anomaly(.commandsNeverAnswered, "\(unanswered) command\(unanswered == 1 ? "" : "s") got no reply before the connection ended", at: time))
        }
        for i in open.indices { open[i].outstanding.removeAll() }
        finishReady(at: time)
        return session
    }

    /// Transactions finished since the last call, in the order they finished.
    public func takeFinished() -> [Transaction] {
        guard !finished.isEmpty else { return [] }
        defer { finished.removeAll() }
        return finished
    }

    /// The session record's TLS facts from the TLS layer's summary.
    static func facts(_ s: TLSSummary) -> TLSFacts {
        var f = TLSFacts()
        f.version = s.version?.name
        f.cipher = s.cipher?.name
        f.sni = s.sni
        f.alpn = s.alpn
        f.ja3 = s.ja3
        f.ja3s = s.ja3s
        f.ja4 = s.ja4
        if let leaf = s.serverCertificates.first {
            f.serverCertificate = TLSFacts.Certificate(
                subject: leaf.subject, issuer: leaf.issuer,
                notBefore: Timestamp(seconds: Int64(max(0, leaf.notValidBefore.timeIntervalSince1970)), nanoseconds: 0),
                notAfter: Timestamp(seconds: Int64(max(0, leaf.notValidAfter.timeIntervalSince1970)), nanoseconds: 0),
                san: leaf.subjectAlternativeNames)
        }
        switch s.outcome {
        case .complete:
            f.handshake = .complete
        case .failed(let after, let alert, let from):
            f.handshake = .failed
            f.stoppedAfter = after.name
            f.alert = alert?.name
            f.alertFrom = alert == nil ? nil : from.map { $0 == .toServer ? .client : .server }
        case .incomplete(let after):
            f.handshake = .incomplete
            f.stoppedAfter = after.name
        }
        f.decrypted = s.decrypted.contains(true)
        f.clientRandom = s.clientRandom
        return f
    }

    /// The timeline's one line for the handshake: `TLS 1.3 TLS_AES_256_GCM_SHA384 · SNI … ·
    /// certificate CN=… issued by … · handshake complete`, and whether what follows is readable.
    static func handshakeLine(_ f: TLSFacts) -> String {
        var parts: [String] = []
        if let v = f.version { parts.append([v, f.cipher].compactMap { $0 }.joined(separator: " ")) } else { parts.append("TLS") }
        if let sni = f.sni { parts.append("SNI \(sni)") }
        if let alpn = f.alpn { parts.append("ALPN \(alpn)") }
        if let c = f.serverCertificate { parts.append("certificate \(c.subject) issued by \(c.issuer)") }
        switch f.handshake {
        case .complete:
            parts.append("handshake complete")
        case .failed:
            var s = "handshake failed \(f.stoppedAfter ?? "")"
            if let a = f.alert { s += " (\(f.alertFrom?.rawValue ?? "") alert \(a))" }
            parts.append(s)
        case .incomplete:
            parts.append("handshake incomplete (\(f.stoppedAfter ?? ""))")
        }
        parts.append(f.decrypted ? "decrypted" : "the rest of the session is encrypted")
        return parts.joined(separator: " · ")
    }

    // MARK: - Events

    private func drain() {
        decoder.drainEvents { handle($0) }
    }

    private func handle(_ event: SMTPEvent) {
        switch event {
        case .command(let cmd): command(cmd)
        case .reply(let reply, let index, let verb): self.reply(reply, answering: index, verb: verb)
        case .messageStarted: break
        case .messageEnded(let m): messageEnded(m)
        case .tlsStarted(let t):
            tls = true
            // TLS without an accepted STARTTLS before it began at the first byte (port 465).
            session.starttls = startTLSAccepted ? .started : .implicit
            if session.timeline.count < limits.maxTimelineEntries { tlsLine = session.timeline.count }
            add(TimelineEntry(time: t, side: .client, kind: .tls, line: Array("TLS started: the rest of the session is encrypted".utf8), transaction: nil))
        case .gap(let dir, let length, let t):
            let side: Side = dir == .toServer ? .client : .server
            add(TimelineEntry(time: t, side: side, kind: .gap(length: length), line: Array("gap: \(length) bytes missing from the capture".utf8), transaction: currentNumber))
            if let c = current { open[c].txn.gapped = true }
        case .anomaly(let a):
            if a.name == .plaintextAfterStartTLS {
                // The decoder keeps reading: the timeline says why the dialogue after STARTTLS is readable.
                session.starttls = .plaintext
                add(TimelineEntry(time: a.time ?? session.end, side: .client, kind: .note, line: Array("STARTTLS accepted, but no TLS followed: the dialogue goes on in clear text".utf8), transaction: nil))
            }
            note(a)
        }
    }

    private var currentNumber: Int? { current.map { open[$0].txn.index } }

    private func command(_ cmd: Command) {
        switch cmd.verb {
        case .mail:
            if let c = current {
                if let r = open[c].mailReply, r.code / 100 == 2, !open[c].messageSent {
                    // MAIL inside a transaction whose MAIL was accepted: the server will normally
                    // refuse it (503) and keep the first envelope (RFC 5321 §4.1.1.2).
                    note(Anomaly(.nestedMail, "MAIL sent inside an open transaction (RFC 5321 §4.1.4: not allowed until it ends or RSET)", at: cmd.time))
                    open[c].nestedMail = cmd
                    attach(cmd, to: c)
                    return
                }
                close(c, .reset(.mail), index: cmd.index)
            }
            startTransaction(cmd)
            attach(cmd, to: current!)
            return
        case .helo, .ehlo, .starttls:
            // Only an accepted HELO/EHLO/STARTTLS resets the envelope: decided at the reply.
            pendingReset[cmd.index] = (cmd.verb, cmd.argument ?? "")
            if cmd.verb != .starttls { lastHeloSent = cmd.argument ?? "" }
        case .rset:
            if let c = current {
                attach(cmd, to: c)
                close(c, .reset(.rset), index: cmd.index)
                return
            }
        case .quit:
            session.quitSent = true
            if let c = current { close(c, .quit, index: cmd.index) }
        case .endOfData:
            if let c = current {
                attach(cmd, to: c)
                close(c, .messageSent, index: cmd.index)
                return
            }
        case .auth:
            session.auth = AuthInfo(mechanism: cmd.argument ?? "", user: cmd.authUser, result: .unknown)
            session.auth?.password = cmd.authPassword
            if let n = cmd.ntlm {
                session.auth?.domain = n.domain
                session.auth?.workstation = n.workstation
            }
        case .authResponse:
            if let user = cmd.authUser { session.auth?.user = user }
            if let password = cmd.authPassword { session.auth?.password = password }
            if let n = cmd.ntlm {
                session.auth?.domain = n.domain
                session.auth?.workstation = n.workstation
            }
            if cmd.argument == "*" { session.auth?.result = .cancelled }
        case .bdat:
            if let c = current {
                open[c].txn.chunked = true
                if cmd.last {
                    attach(cmd, to: c)
                    lastChunks.insert(cmd.index)
                    close(c, .messageSent, index: cmd.index)
                    return
                }
            }
        default:
            break
        }
        if let c = current, cmd.verb != .quit {
            attach(cmd, to: c)
            if cmd.verb == .rcpt {
                open[c].rcptCount += 1
                if open[c].rcptCount <= limits.maxRecipients {
                    open[c].rcptAddresses[cmd.index] = cmd.address ?? ""
                    open[c].txn.rcptSent.append(cmd.address ?? "")
                }
            }
            // BDAT data always follows its command; DATA's only after a 354.
            if cmd.verb == .bdat { open[c].messageSent = true }
        } else {
            pendingSession.insert(cmd.index)
            add(entry(cmd, transaction: nil))
        }
    }

    /// Stops a transaction taking commands; it finishes once its replies are in.
    private func close(_ c: Int, _ closer: Closer, index: Int?) {
        if open[c].closer == nil {
            open[c].closer = closer
            open[c].closerIndex = index
        }
        if current == c { current = nil }
    }

    private func startTransaction(_ cmd: Command) {
        txnCount += 1
        session.transactions = txnCount
        var t = Transaction(index: txnCount, session: session.id, start: cmd.time, end: cmd.time)
        // With no server side captured, nothing was seen to accept a name: take the one sent.
        t.helo = session.helo ?? (session.bytes[1] == 0 ? lastHeloSent : nil)
        t.mailFrom = cmd.address
        t.mailParameters = cmd.parameters
        t.tls = tls
        open.append(Open(txn: t, mailIndex: cmd.index))
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
        add(TimelineEntry(time: reply.time, side: .server, kind: .reply(code: reply.code, answering: index), line: reply.displayLine, transaction: txnNumber, ttl: reply.ttl, ipID: reply.ipID))
        guard let index else {
            if session.banner == nil, verb == nil { session.banner = reply }
            finishReady(at: reply.time)
            return
        }
        pendingSession.remove(index)
        let positive = reply.code / 100 == 2
        switch verb {
        case .ehlo?, .helo?:
            let (v, name) = pendingReset.removeValue(forKey: index) ?? (verb!, "")
            if positive {
                session.helo = name
                session.heloVerb = v
                resetOpenTransaction(before: index, by: v == .ehlo ? .ehlo : .helo, reply: reply)
                if v == .ehlo {
                    session.extensions = reply.lines.dropFirst().map { String(decoding: $0, as: UTF8.self) }
                    if session.starttls == .none, session.offered("starttls") != nil {
                        session.starttls = .offered
                    }
                }
            } else {
                session.heloRefused.append((name, reply.code))
            }
        case .starttls?:
            pendingReset.removeValue(forKey: index)
            if reply.code == 220 {
                startTLSAccepted = true
                resetOpenTransaction(before: index, by: .starttls, reply: reply)
            } else {
                session.starttls = .refused
            }
        case .auth?, .authResponse?:
            if reply.code == 235 { session.auth?.result = .success } else if reply.code >= 400 { session.auth?.result = .failure }
        case .quit?:
            if reply.code == 221 { session.close = .quit }
        default:
            break
        }
        if let n = txnNumber, let c = open.firstIndex(where: { $0.txn.index == n }) {
            open[c].outstanding.remove(index)
            open[c].txn.end = max(open[c].txn.end, reply.time)
            if index == open[c].closerIndex { open[c].closerReply = reply }
            switch verb {
            case .mail?:
                if let nested = open[c].nestedMail, nested.index == index {
                    open[c].nestedMail = nil
                    if positive { split(c, at: nested, reply: reply) }
                } else {
                    open[c].mailReply = reply
                }
            case .rcpt?:
                if let address = open[c].rcptAddresses.removeValue(forKey: index) {
                    if positive {
                        open[c].txn.rcptTo.append(address)
                    } else {
                        open[c].txn.rcptRejected.append(RejectedRecipient(address: address, code: reply.code))
                    }
                }
                if reply.code >= 400 { open[c].lastRcptRejection = reply }
            case .data?:
                open[c].dataReply = reply
                if reply.code == 354 { open[c].messageSent = true }
            case .endOfData?:
                open[c].messageReply = reply
            case .bdat?:
                if reply.code >= 400 || lastChunks.contains(index) {
                    if open[c].messageReply == nil || reply.code >= 400 { open[c].messageReply = reply }
                }
            default:
                break
            }
        }
        finishReady(at: reply.time)
    }

    /// An accepted EHLO/HELO/STARTTLS resets a transaction begun before it (RFC 5321 §4.1.4, RFC 3207 §4.2).
    private func resetOpenTransaction(before index: Int, by cause: Transaction.ResetCause, reply: Reply) {
        guard let c = current, open[c].mailIndex < index else { return }
        close(c, .reset(cause), index: index)
        open[c].closerReply = reply
    }

    /// A nested MAIL the server accepted: it starts a new transaction with the commands after it.
    private func split(_ c: Int, at mail: Command, reply: Reply) {
        let old = open[c].txn.index
        close(c, .reset(.mail), index: mail.index)
        open[c].closerReply = reply
        startTransaction(mail)
        let n = current!
        open[n].mailReply = reply
        let new = open[n].txn.index
        for (cmd, t) in owner where t == old && cmd > mail.index {
            owner[cmd] = new
            if open[c].outstanding.remove(cmd) != nil { open[n].outstanding.insert(cmd) }
            if let a = open[c].rcptAddresses.removeValue(forKey: cmd) {
                open[n].rcptAddresses[cmd] = a
                open[n].rcptCount += 1
            }
        }
        owner[mail.index] = new
        for i in session.timeline.indices where session.timeline[i].transaction == old {
            switch session.timeline[i].kind {
            case .command(let k, _, _) where k >= mail.index: session.timeline[i].transaction = new
            case .reply(_, let k?) where k >= mail.index: session.timeline[i].transaction = new
            default: break
            }
        }
    }

    /// Indices of `BDAT … LAST` commands: their reply decides the message.
    private var lastChunks: Set<Int> = []

    private func messageEnded(_ m: MessageInfo) {
        guard let c = current ?? open.indices.last else { return }
        open[c].txn.size = m.size
        open[c].txn.messageComplete = m.complete
        open[c].txn.eightBitContent = m.eightBit
        open[c].txn.headers = m.headers
        open[c].txn.body = m.body
        open[c].txn.parts = m.parts
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
        t.rcptUnanswered = o.rcptAddresses.sorted { $0.key < $1.key }.map(\.value)
        if session.bytes[1] == 0 {
            // Only the client's side was captured: no reply decides anything.
            t.outcome = .incomplete
            o.txn = t
            return
        }
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
            case .reset(let cause)?:
                t.outcome = .reset
                t.resetBy = cause
                t.reply = o.closerReply
            case .quit?:
                t.outcome = .abandoned
            case .messageSent?, nil:
                t.outcome = .incomplete
            case .connectionEnd(let reason)?:
                t.outcome = (reason == .captureEnd || reason == .idle || t.gapped) ? .incomplete : .abandoned
            }
        }
        if t.gapped, t.outcome != .queued, t.outcome != .rejected {
            t.outcome = .incomplete
            t.reply = nil
            t.resetBy = nil
        }
        o.txn = t
    }

    // MARK: - Helpers

    private func add(_ e: TimelineEntry) {
        if session.timeline.count < limits.maxTimelineEntries {
            session.timeline.append(e)
            if switched { session.timeline[session.timeline.count - 1].decrypted = true }
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
