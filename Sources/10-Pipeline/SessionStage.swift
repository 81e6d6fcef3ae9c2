import Reassembly
import SMTP
import Vocabulary
import Sessions
import TLS

/// What the TCP layer tells the SMTP layer of a connection that was ending, taken when it closed.
public struct ConnectionFacts: Sendable {
    var reason: CloseReason
    var lastSeen: Timestamp
    var rolesFromHandshake: Bool
    var handshakeRTT: Double?
    var handshakeHalves: (server: Double, client: Double)?
    var tcp: [TCPSide]
    var anomalies: [Anomaly]

    init(_ c: Connection, _ reason: CloseReason) {
        self.reason = reason
        lastSeen = c.lastSeen
        rolesFromHandshake = c.rolesFromHandshake
        handshakeRTT = c.handshakeRTT
        handshakeHalves = c.handshakeHalves
        tcp = c.stats.map { d in
            var t = TCPSide()
            t.packets = d.packets
            t.retransmissions = d.retransmissions
            t.inconsistentRetransmissions = d.inconsistentRetransmissions
            t.outOfOrder = d.outOfOrder
            t.keepAlives = d.keepAlives
            t.ttls = Array(d.ttls)
            t.ipIDJumps = d.ipIDJumps
            t.offloadFrames = d.offloadFrames
            t.mss = d.synOptions?.mss
            t.windowScale = d.synOptions?.windowScale
            t.sackPermitted = d.synOptions?.sackPermitted ?? false
            t.timestamps = d.synOptions?.timestampValue != nil
            t.isn = d.isn
            t.synTimestamp = d.synOptions?.timestampValue
            return t
        }
        anomalies = c.anomalies
    }
}

/// What the TCP stage hands on to the SMTP stage, naming each session by a slot number the TCP
/// stage chose (free again after `close`). The SMTP stage itself takes it (`SessionStage`), or a
/// hand-over to another thread does (`SessionHandover`).
public protocol SessionInput: AnyObject {
    func open(_ slot: Int, _ s: Session)
    func receive(_ slot: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8, ipID: UInt16?)
    func gap(_ slot: Int, _ direction: Direction, length: Int, at time: Timestamp)
    func close(_ slot: Int, _ facts: ConnectionFacts)
    func horizon(_ time: Timestamp)
    /// The input ended: everything handed on is done when this returns.
    func finish()
}

/// The SMTP stage: a session builder per session, fed with its connection's bytes, gaps and end in
/// the order the TCP stage delivered them; finished transactions and sessions go to `sink`.
public final class SessionStage: SessionInput {
    private let sink: RecordSink
    private let decoderOptions: SMTPDecoder.Options
    private let limits: SessionBuilder.Limits
    /// TLS secrets given to every session's TLS layer.
    private let keyLog: KeyLogStore?
    /// The builders, by slot.
    private var builders: [SessionBuilder?] = []

    public init(sink: RecordSink, decoderOptions: SMTPDecoder.Options, limits: SessionBuilder.Limits, keyLog: KeyLogStore? = nil) {
        self.sink = sink
        self.keyLog = keyLog
        self.decoderOptions = decoderOptions
        self.limits = limits
    }

    public func open(_ slot: Int, _ s: Session) {
        if slot >= builders.count { builders.append(contentsOf: repeatElement(nil, count: slot + 1 - builders.count)) }
        builders[slot] = SessionBuilder(session: s, decoderOptions: decoderOptions, limits: limits, keyLog: keyLog)
    }

    public func receive(_ slot: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8, ipID: UInt16?) {
        guard let b = builders[slot] else { return }
        b.receive(direction, bytes, at: time, ttl: ttl, ipID: ipID)
        emit(b)
    }

    public func gap(_ slot: Int, _ direction: Direction, length: Int, at time: Timestamp) {
        guard let b = builders[slot] else { return }
        b.gap(direction, length: length, at: time)
        emit(b)
    }

    public func close(_ slot: Int, _ facts: ConnectionFacts) {
        guard let b = builders[slot] else { return }
        builders[slot] = nil
        var s = b.close(reason: facts.reason, at: max(facts.lastSeen, b.session.end))
        emit(b)
        s.rolesFromHandshake = facts.rolesFromHandshake
        s.handshakeRTT = facts.handshakeRTT
        s.handshakeHalves = facts.handshakeHalves
        s.tcp = facts.tcp
        s.anomalies.insert(contentsOf: facts.anomalies, at: 0)
        sink.session(s)
    }

    public func horizon(_ time: Timestamp) { sink.horizon(time) }

    public func finish() {}

    private func emit(_ builder: SessionBuilder) {
        let finished = builder.takeFinished()
        guard !finished.isEmpty else { return }
        let session = builder.session
        for t in finished { sink.transaction(t, in: session) }
    }
}
