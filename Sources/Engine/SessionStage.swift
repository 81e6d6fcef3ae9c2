import Reassembly
import SMTP
import ScopeCore
import Sessions

/// What the TCP layer tells the SMTP layer of a connection that was ending, taken when it closed.
struct ConnectionFacts {
    var reason: String
    var lastSeen: Timestamp
    var rolesFromHandshake: Bool
    var handshakeRTT: Double?
    var handshakeHalves: (server: Double, client: Double)?
    var tcp: [TCPSide]
    var anomalies: [Anomaly]

    init(_ c: Connection, _ reason: CloseReason) {
        self.reason = reason.rawValue
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
            t.mss = d.synOptions?.mss
            t.windowScale = d.synOptions?.windowScale
            t.sackPermitted = d.synOptions?.sackPermitted ?? false
            t.timestamps = d.synOptions?.timestampValue != nil
            return t
        }
        anomalies = c.anomalies
    }
}

/// The SMTP half of the analysis: session builders fed with each connection's bytes, gaps and
/// end, in the order the TCP layer delivered them, and their transactions and sessions passed to
/// the sink.
///
/// Threaded, it runs on a thread of its own: the TCP layer copies what it delivers into batches
/// and goes on with the next packets. Nothing else touches the builders then, and the order of
/// everything is kept, so the output is the same as when it runs on the caller's thread. The TCP
/// layer names a session by a slot number, never by the builder: an object both threads retain
/// and release would bounce its reference count between the cores at every segment.
final class SessionStage: @unchecked Sendable {
    private enum Work {
        case open(Int, Session)
        case data(Int, Direction, Range<Int>, Timestamp, ttl: UInt8, ipID: UInt16?)
        case gap(Int, Direction, Int, Timestamp)
        case close(Int, ConnectionFacts)
        case horizon(Timestamp)
    }

    /// Work and the bytes it refers to, handed over together.
    private final class Batch {
        static let bytesLimit = 1 << 18
        var work: [Work] = []
        var bytes: [UInt8] = []
        init(items: Int) {
            work.reserveCapacity(items)
            bytes.reserveCapacity(Self.bytesLimit)
        }
    }

    private let sink: RecordSink
    private let decoderOptions: SMTPDecoder.Options
    private let limits: SessionBuilder.Limits
    /// The SMTP side's builders, by slot (used only by the thread that performs the work).
    private var builders: [SessionBuilder?] = []
    /// The TCP side's slots: free ones are reused (their close is queued before any reuse).
    private var slotsInUse = 0
    private var freeSlots: [Int] = []
    /// Work items handed over at once.
    private let batchItems: Int
    /// Threaded: the batches, the one being filled, and the thread that performs them.
    private var exchange: BatchExchange<Batch>?
    private var batch: Batch?
    private var thread: WorkerThread?

    init(sink: RecordSink, decoderOptions: SMTPDecoder.Options, limits: SessionBuilder.Limits, threaded: Bool, batchItems: Int = 1024) {
        self.sink = sink
        self.decoderOptions = decoderOptions
        self.limits = limits
        self.batchItems = max(1, batchItems)
        guard threaded else { return }
        let items = self.batchItems
        let exchange = BatchExchange(count: 16) { Batch(items: items) }
        let worker = WorkerThread { [self] in
            exchange.receive { b in
                b.bytes.withUnsafeBytes { raw in
                    for w in b.work { perform(w, raw) }
                }
                b.work.removeAll(keepingCapacity: true)
                b.bytes.removeAll(keepingCapacity: true)
            }
        }
        guard let worker else { return }  // no thread: run on the caller's
        self.exchange = exchange
        batch = exchange.empty()
        thread = worker
    }

    // MARK: - From the TCP layer

    /// A session begins; returns its slot.
    func open(_ s: Session) -> Int {
        let slot = freeSlots.popLast() ?? { slotsInUse += 1; return slotsInUse - 1 }()
        submit(.open(slot, s))
        return slot
    }

    func receive(_ slot: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8 = 0, ipID: UInt16? = nil) {
        guard var b = batch else { return perform(.data(slot, direction, 0..<bytes.count, time, ttl: ttl, ipID: ipID), bytes) }
        if b.bytes.count + bytes.count > Batch.bytesLimit, !b.work.isEmpty { b = handOver() }
        let start = b.bytes.count
        b.bytes.append(contentsOf: bytes)
        add(.data(slot, direction, start..<b.bytes.count, time, ttl: ttl, ipID: ipID))
    }

    func gap(_ slot: Int, _ direction: Direction, length: Int, at time: Timestamp) {
        submit(.gap(slot, direction, length, time))
    }

    /// The session ends; its slot may be given to another.
    func close(_ slot: Int, _ facts: ConnectionFacts) {
        submit(.close(slot, facts))
        freeSlots.append(slot)
    }

    func horizon(_ t: Timestamp) { submit(.horizon(t)) }

    private func submit(_ w: Work) {
        if batch == nil { perform(w, UnsafeRawBufferPointer(start: nil, count: 0)) } else { add(w) }
    }

    /// Waits until everything handed over is done, and ends the thread.
    func finish() {
        guard let t = thread, let exchange, let b = batch else { return }
        if !b.work.isEmpty { exchange.send(b) }
        exchange.close()
        t.join()
        thread = nil
        batch = nil
    }

    private func add(_ w: Work) {
        guard let b = batch else { return }
        b.work.append(w)
        if b.work.count >= batchItems { handOver() }
    }

    /// Sends the batch being filled; returns the next one.
    @discardableResult
    private func handOver() -> Batch {
        exchange!.send(batch!)
        let next = exchange!.empty()
        batch = next
        return next
    }

    // MARK: - The SMTP layer

    private func perform(_ w: Work, _ raw: UnsafeRawBufferPointer) {
        switch w {
        case .open(let slot, let s):
            if slot >= builders.count { builders.append(contentsOf: repeatElement(nil, count: slot + 1 - builders.count)) }
            builders[slot] = SessionBuilder(session: s, decoderOptions: decoderOptions, limits: limits)
        case .data(let slot, let direction, let range, let time, let ttl, let ipID):
            guard let b = builders[slot] else { return }
            b.receive(direction, UnsafeRawBufferPointer(rebasing: raw[range]), at: time, ttl: ttl, ipID: ipID)
            emit(b)
        case .gap(let slot, let direction, let length, let time):
            guard let b = builders[slot] else { return }
            b.gap(direction, length: length, at: time)
            emit(b)
        case .close(let slot, let facts):
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
        case .horizon(let t):
            sink.horizon(t)
        }
    }

    private func emit(_ builder: SessionBuilder) {
        let finished = builder.takeFinished()
        guard !finished.isEmpty else { return }
        let session = builder.session
        for t in finished { sink.transaction(t, in: session) }
    }
}
