import Sessions

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        case end
    }

    private let target: RecordSink
    private let capacity: Int
    // Guarded by `lock`.
    private var pending: [Record] = []
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var thread: pthread_t?
    private var drained = false

    public init(_ target: RecordSink, capacity: Int = 256) {
        self.target = target
        self.capacity = capacity
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
        #if canImport(Glibc)
        var t = pthread_t()
        #else
        var t: pthread_t?
        #endif
        let me = Unmanaged.passRetained(self).toOpaque()
        let started = pthread_create(&t, nil, { arg in
            let sink = Unmanaged<BackgroundSink>.fromOpaque(arg!).takeRetainedValue()
            sink.run()
            return nil
        }, me)
        if started == 0 {
            thread = t
        } else {
            // No thread to be had: records are handed to the target directly.
            Unmanaged<BackgroundSink>.fromOpaque(me).release()
        }
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        changed.deallocate()
        lock.deallocate()
    }

    public func transaction(_ t: Transaction, in session: Session) {
        guard thread != nil else { return target.transaction(t, in: session) }
        hand(.transaction(t, session))
    }

    public func session(_ s: Session) {
        guard thread != nil else { return target.session(s) }
        hand(.session(s))
    }

    /// Waits until every record handed over has been passed to the target, and ends the thread.
    public func drain() {
        guard let t = thread, !drained else { return }
        drained = true
        hand(.end)
        pthread_join(t, nil)
    }

    /// Records are handed over in batches: waking the sink thread for each one would cost more
    /// than judging it.
    private var batchSize: Int { max(1, capacity / 4) }

    private func hand(_ r: Record) {
        pthread_mutex_lock(lock)
        while pending.count >= capacity { pthread_cond_wait(changed, lock) }
        pending.append(r)
        if pending.count == batchSize { pthread_cond_broadcast(changed) }
        if case .end = r { ending = true; pthread_cond_broadcast(changed) }
        pthread_mutex_unlock(lock)
    }

    private var ending = false  // guarded by `lock`

    private func run() {
        var batch: [Record] = []
        while true {
            pthread_mutex_lock(lock)
            while pending.count < batchSize && !ending { pthread_cond_wait(changed, lock) }
            swap(&batch, &pending)
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(lock)
            for r in batch {
                switch r {
                case .transaction(let t, let s): target.transaction(t, in: s)
                case .session(let s): target.session(s)
                case .end: return
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
