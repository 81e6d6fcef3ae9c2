import Reassembly
import SMTP
import ScopeCore
import Sessions

/// What the TCP layer tells the SMTP layer of a connection that was ending, taken when it closed.
struct ConnectionFacts {
    var reason: Session.CloseReason
    var lastSeen: Timestamp
    var rolesFromHandshake: Bool
    var handshakeRTT: Double?
    var handshakeHalves: (server: Double, client: Double)?
    var tcp: [TCPSide]
    var anomalies: [Anomaly]

    init(_ c: Connection, _ reason: CloseReason) {
        self.reason = Session.CloseReason(reason)
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
    /// A step for the SMTP side. Plain values only, so a batch of them is copied and walked
    /// without reference counting; the bytes, sessions and facts they refer to travel beside them.
    private enum Work {
        /// A session begins: the next of the batch's `sessions`.
        case open(Int)
        case data(Int, Direction, Range<Int>, Timestamp, ttl: UInt8, ipID: UInt16?)
        case gap(Int, Direction, Int, Timestamp)
        /// A session ends: the next of the batch's `facts`.
        case close(Int)
        case horizon(Timestamp)
    }

    /// Work and what it refers to, handed over together.
    private final class Batch {
        static let bytesLimit = 1 << 18
        var work: [Work] = []
        let bytes = ByteBuffer(capacity: Batch.bytesLimit)
        var sessions: [Session] = []
        var facts: [ConnectionFacts] = []
        init(items: Int) {
            work.reserveCapacity(items)
        }

        /// Copies bytes in; nil when they do not fit and the batch has work already.
        func add(_ data: UnsafeRawBufferPointer) -> Range<Int>? {
            if bytes.count + data.count > Batch.bytesLimit, !work.isEmpty { return nil }
            let start = bytes.count
            bytes.append(data)
            return start..<bytes.count
        }

        func removeAll() {
            work.removeAll(keepingCapacity: true)
            bytes.removeAll()
            sessions.removeAll(keepingCapacity: true)
            facts.removeAll(keepingCapacity: true)
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
        // 8 MB of segments in flight: the SMTP layer's work comes in bursts (long message
        // bodies), and while it catches up the TCP layer and the reader go on ahead rather than
        // wait (measured: with 4 MB, a quarter of the time only one core had work).
        let exchange = BatchExchange(count: 32) { Batch(items: items) }
        let worker = WorkerThread { [self] in
            exchange.receive { b in
                perform(b)
                b.removeAll()
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
        if let b = batch {
            b.sessions.append(s)
            add(.open(slot))
        } else {
            begin(slot, s)
        }
        return slot
    }

    func receive(_ slot: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8 = 0, ipID: UInt16? = nil) {
        guard var b = batch else { return receive(slot, direction, bytes, time, ttl, ipID) }
        var range = b.add(bytes)
        if range == nil {
            b = handOver()
            range = b.add(bytes)  // an empty batch takes any bytes
        }
        guard let range else { return }
        add(.data(slot, direction, range, time, ttl: ttl, ipID: ipID), to: b)
    }

    func gap(_ slot: Int, _ direction: Direction, length: Int, at time: Timestamp) {
        if batch == nil { gap(slot, direction, length, time) } else { add(.gap(slot, direction, length, time)) }
    }

    /// The session ends; its slot may be given to another.
    func close(_ slot: Int, _ facts: ConnectionFacts) {
        if let b = batch {
            b.facts.append(facts)
            add(.close(slot))
        } else {
            end(slot, facts)
        }
        freeSlots.append(slot)
    }

    func horizon(_ t: Timestamp) {
        if batch == nil { sink.horizon(t) } else { add(.horizon(t)) }
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
        add(w, to: b)
    }

    /// `b` is the batch being filled, passed on to spare reading it from `batch` again.
    private func add(_ w: Work, to b: Batch) {
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

    private func perform(_ b: Batch) {
        var opened = 0, closed = 0
        b.bytes.withBytes { raw in
            for w in b.work {
                switch w {
                case .open(let slot):
                    begin(slot, b.sessions[opened])
                    opened += 1
                case .data(let slot, let direction, let range, let time, let ttl, let ipID):
                    receive(slot, direction, UnsafeRawBufferPointer(rebasing: raw[range]), time, ttl, ipID)
                case .gap(let slot, let direction, let length, let time):
                    gap(slot, direction, length, time)
                case .close(let slot):
                    end(slot, b.facts[closed])
                    closed += 1
                case .horizon(let t):
                    sink.horizon(t)
                }
            }
        }
    }

    private func begin(_ slot: Int, _ s: Session) {
        if slot >= builders.count { builders.append(contentsOf: repeatElement(nil, count: slot + 1 - builders.count)) }
        builders[slot] = SessionBuilder(session: s, decoderOptions: decoderOptions, limits: limits)
    }

    private func receive(_ slot: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ time: Timestamp, _ ttl: UInt8, _ ipID: UInt16?) {
        guard let b = builders[slot] else { return }
        b.receive(direction, bytes, at: time, ttl: ttl, ipID: ipID)
        emit(b)
    }

    private func gap(_ slot: Int, _ direction: Direction, _ length: Int, _ time: Timestamp) {
        guard let b = builders[slot] else { return }
        b.gap(direction, length: length, at: time)
        emit(b)
    }

    private func end(_ slot: Int, _ facts: ConnectionFacts) {
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

    private func emit(_ builder: SessionBuilder) {
        let finished = builder.takeFinished()
        guard !finished.isEmpty else { return }
        let session = builder.session
        for t in finished { sink.transaction(t, in: session) }
    }
}

extension Session.CloseReason {
    /// The session's end for the reassembler's reason the connection closed.
    init(_ reason: CloseReason) {
        switch reason {
        case .fin: self = .fin
        case .rst: self = .rst
        case .idle: self = .idle
        case .captureEnd: self = .captureEnd
        case .portReuse: self = .portReuse
        case .tableFull: self = .tableFull
        case .ignored: self = .ignored
        }
    }
}
