import ScopeCore
import Sessions

/// Runs a record sink on a thread of its own: the analysis hands over each finished transaction
/// and session and goes on with the next packets, while the sink judges, formats and writes them
/// — in the order they were handed over, so the output is the same as with the sink called
/// directly. At most `capacity` records wait; past that the analysis waits, so memory stays
/// bounded whatever the input.
///
/// The target sink is used only by the sink thread until `drain()` returns; after that it is the
/// caller's again.
public final class BackgroundSink: RecordSink, @unchecked Sendable {
    private enum Record {
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
        queue = Handoff(capacity: capacity, batch: capacity / 4)
        thread = WorkerThread { [queue, target] in
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
