import Sessions
import Vocabulary
import Reassembly

/// The SMTP stage on a thread of its own: what the TCP stage hands on is copied into batches
/// (plain values; the bytes, sessions and facts they refer to travel beside them) and performed
/// there, in the same order, by `stage` — so the output is the same as when the stage is called
/// directly. The TCP stage names sessions by slot, never by builder: an object both threads
/// retained and released would bounce its reference count between the cores at every segment.
public final class SessionHandover: SessionInput {
    /// A step for the SMTP stage.
    private enum Work {
        /// A session begins: the next of the batch's `sessions`.
        case open(Int)
        case data(Int, Direction, Range<Int>, Timestamp, ttl: UInt8, ipID: UInt16?)
        case gap(Int, Direction, Int, Timestamp)
        /// A session ends: the next of the batch's `facts`.
        case close(Int)
        case horizon(Timestamp)
    }

    /// Work and what it refers to, handed over together. Only one thread holds a batch at a time:
    /// the exchange passes it on (`sending`), never shares it.
    private final class Batch {
        static let bytesLimit = Limits.sessionBatchBytes
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

        /// Performs the work on `stage`, in order.
        func perform(on stage: SessionInput) {
            var opened = 0, closed = 0
            bytes.withBytes { raw in
                for w in work {
                    switch w {
                    case .open(let slot):
                        stage.open(slot, sessions[opened])
                        opened += 1
                    case .data(let slot, let direction, let range, let time, let ttl, let ipID):
                        stage.receive(slot, direction, UnsafeRawBufferPointer(rebasing: raw[range]), at: time, ttl: ttl, ipID: ipID)
                    case .gap(let slot, let direction, let length, let time):
                        stage.gap(slot, direction, length: length, at: time)
                    case .close(let slot):
                        stage.close(slot, facts[closed])
                        closed += 1
                    case .horizon(let t):
                        stage.horizon(t)
                    }
                }
            }
        }
    }

    /// Work items handed over at once.
    private let batchItems: Int
    private let exchange: BatchExchange<Batch>
    private var batch: Batch
    /// Free batches taken from the exchange and not yet used.
    private var spare: [Batch] = []
    private var thread: WorkerThread?
    /// Runs the stage on the caller's thread when no thread could be started.
    private let fallback: SessionInput

    /// `stage` is used only by the new thread until `finish()` returns.
    public init(_ stage: SessionInput, batchItems: Int = 1024) {
        let items = max(1, batchItems)
        self.batchItems = items
        fallback = stage
        let exchange = BatchExchange(count: Limits.sessionBatches) { Batch(items: items) }
        self.exchange = exchange
        batch = exchange.empty(&spare)
        // Handed to the thread: the stage (used by no other thread until `finish` joins it) and
        // the exchange.
        thread = WorkerThread {
            exchange.receive { b in
                b.perform(on: stage)
                b.removeAll()
            }
        }
    }

    public func open(_ slot: Int, _ s: Session) {
        guard thread != nil else { return fallback.open(slot, s) }
        batch.sessions.append(s)
        add(.open(slot))
    }

    public func receive(_ slot: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8, ipID: UInt16?) {
        guard thread != nil else { return fallback.receive(slot, direction, bytes, at: time, ttl: ttl, ipID: ipID) }
        var b = batch
        var range = b.add(bytes)
        if range == nil {
            b = handOver()
            range = b.add(bytes)  // an empty batch takes any bytes
        }
        guard let range else { return }
        add(.data(slot, direction, range, time, ttl: ttl, ipID: ipID), to: b)
    }

    public func gap(_ slot: Int, _ direction: Direction, length: Int, at time: Timestamp) {
        guard thread != nil else { return fallback.gap(slot, direction, length: length, at: time) }
        add(.gap(slot, direction, length, time))
    }

    public func close(_ slot: Int, _ facts: ConnectionFacts) {
        guard thread != nil else { return fallback.close(slot, facts) }
        batch.facts.append(facts)
        add(.close(slot))
    }

    public func horizon(_ time: Timestamp) {
        guard thread != nil else { return fallback.horizon(time) }
        add(.horizon(time))
    }

    /// Waits until everything handed over is done, and ends the thread.
    public func finish() {
        guard let t = thread else { return fallback.finish() }
        if !batch.work.isEmpty { exchange.send(batch) }
        exchange.close()
        t.join()
        thread = nil
        fallback.finish()
    }

    private func add(_ w: Work) { add(w, to: batch) }

    /// `b` is the batch being filled, passed on to spare reading it from `batch` again.
    private func add(_ w: Work, to b: Batch) {
        b.work.append(w)
        if b.work.count >= batchItems { handOver() }
    }

    /// Sends the batch being filled; returns the next one.
    @discardableResult
    private func handOver() -> Batch {
        exchange.send(batch)
        let next = exchange.empty(&spare)
        batch = next
        return next
    }
}

/// Finished records handed to a sink on a thread of its own: the analysis hands over each
/// finished transaction and session and goes on, while the sink (the judging stage and the
/// writer) works on them in the order they were handed over — so the output is the same as with
/// the sink called directly. At most `capacity` records wait; past that the analysis waits, so
/// memory stays bounded whatever the input. The target is used only by the sink thread until
/// `drain()` returns; after that it is the caller's again.
public final class RecordHandover: RecordSink {
    private enum Record: Sendable {
        case transaction(Transaction, Session)
        case session(Session)
        case horizon(Timestamp)
    }

    private let target: RecordSink
    private let queue: Handoff<Record>
    private var thread: WorkerThread?

    public init(_ target: RecordSink, capacity: Int = 256) {
        self.target = target
        // Handed over in batches: waking the sink thread for each record would cost more than
        // judging it.
        let queue = Handoff<Record>(capacity: capacity, batch: capacity / 4)
        self.queue = queue
        // Handed to the thread: the target (used by no other thread until `drain` joins it) and
        // the queue.
        thread = WorkerThread {
            var batch: [Record] = []
            while queue.take(into: &batch) {
                for r in batch {
                    switch r {
                    case .transaction(let t, let s): target.transaction(t, in: s)
                    case .session(let s): target.session(s)
                    case .horizon(let t): target.horizon(t)
                    }
                }
                batch.removeAll(keepingCapacity: true)
            }
        }
    }

    public func transaction(_ t: Transaction, in session: Session) {
        guard thread != nil else { return target.transaction(t, in: session) }
        queue.put(.transaction(t, session))
    }

    public func session(_ s: Session) {
        guard thread != nil else { return target.session(s) }
        queue.put(.session(s))
    }

    public func horizon(_ time: Timestamp) {
        guard thread != nil else { return target.horizon(time) }
        queue.put(.horizon(time))
    }

    /// Waits until every record handed over has been passed to the target, and ends the thread.
    public func drain() {
        guard let t = thread else { return }
        queue.close()
        t.join()
        thread = nil
    }
}
