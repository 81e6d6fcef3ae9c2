#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded first-in first-out queue between producing threads and one consuming thread. The
/// consumer takes elements in batches, so that neither side wakes the other for every element;
/// the producer waits while `capacity` elements are pending, so memory stays bounded.
///
/// The one type of the project whose thread safety the compiler cannot check: its state is
/// guarded by a pthread mutex (`Synchronization.Mutex` has no condition variable to wait on).
/// Its elements need not be `Sendable`: whoever puts one in gives it up (a batch is filled on one
/// thread and read on the other, then handed back empty, never used by both at once) — the rule
/// the hand-overs built on it (`BatchExchange`, the pipeline's) keep.
final class Handoff<Element>: @unchecked Sendable {
    private let capacity: Int
    private let batch: Int
    // Guarded by `lock`.
    private var pending: [Element] = []
    private var closed = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// `batch`: how many pending elements wake the consumer (fewer wake it only at `close`).
    init(capacity: Int, batch: Int = 1) {
        self.capacity = max(1, capacity)
        self.batch = min(max(1, batch), self.capacity)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(lock)
        changed.deallocate()
        lock.deallocate()
    }

    /// Adds an element, waiting while the queue is full.
    func put(_ e: Element) {
        pthread_mutex_lock(lock)
        while pending.count >= capacity { pthread_cond_wait(changed, lock) }
        pending.append(e)
        if pending.count == batch { pthread_cond_broadcast(changed) }
        pthread_mutex_unlock(lock)
    }

    /// No more elements will be put.
    func close() {
        pthread_mutex_lock(lock)
        closed = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
    }

    /// Waits for a batch (or the close), then moves every pending element into `out` (which
    /// should be empty). Returns false once the queue is closed and empty.
    func take(into out: inout [Element]) -> Bool {
        pthread_mutex_lock(lock)
        while pending.count < batch && !closed { pthread_cond_wait(changed, lock) }
        swap(&out, &pending)
        let more = !out.isEmpty || !closed
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
        return more
    }

    /// As `take`, but waits at most `seconds`: returns with what is pending then (maybe nothing).
    func take(into out: inout [Element], waitingAtMost seconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let ns = Int(deadline.tv_nsec) + Int(seconds * 1e9)
        deadline.tv_sec += ns / 1_000_000_000
        deadline.tv_nsec = ns % 1_000_000_000
        pthread_mutex_lock(lock)
        while pending.count < batch && !closed {
            if pthread_cond_timedwait(changed, lock, &deadline) == ETIMEDOUT { break }
        }
        swap(&out, &pending)
        let more = !out.isEmpty || !closed
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
        return more
    }
}

/// A thread running `body` once; `join()` waits for it to end. What `body` captures is, by the
/// rule of the hand-overs, the new thread's until it ends, or `Sendable` (the hand-overs
/// themselves); the compiler does not check the capture list (region checking cannot follow a
/// stage object into a thread and back), so every caller says beside it what it hands over.
final class WorkerThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    #if canImport(Glibc)
    private var thread = pthread_t()
    #else
    private var thread: pthread_t?
    #endif
    private var joined = false

    /// Starts the thread; nil when the system would not create one (then run `body` yourself).
    init?(_ body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Body>.fromOpaque(box).release()
            return nil
        }
    }

    func join() {
        guard !joined else { return }
        joined = true
        #if canImport(Glibc)
        pthread_join(thread, nil)
        #else
        if let t = thread { pthread_join(t, nil) }
        #endif
    }
}

/// Batches passed from a producing thread to a consuming one and handed back for reuse: `count`
/// batches in all, so memory is bounded whatever the input. Each queue can hold every batch, so
/// handing one back never waits. A batch belongs to one thread at a time: it is sent, not shared.
final class BatchExchange<Batch: AnyObject>: Sendable {
    private let full: Handoff<Batch>
    private let free: Handoff<Batch>

    init(count: Int, make: () -> Batch) {
        full = Handoff(capacity: count)
        free = Handoff(capacity: count)
        for _ in 0..<count { free.put(make()) }
    }

    /// Producer: an empty batch to fill, waiting until the consumer hands one back. `spare` is
    /// the producer's own: free batches taken but not yet used.
    func empty(_ spare: inout [Batch]) -> Batch {
        if spare.isEmpty { _ = free.take(into: &spare) }  // the free queue is never closed
        return spare.removeLast()
    }

    /// Producer: a filled batch, for the consumer.
    func send(_ batch: Batch) { full.put(batch) }

    /// Producer: nothing more will be sent.
    func close() { full.close() }

    /// Consumer: each batch in the order sent, until the producer closes; `body` must leave the
    /// batch empty, for it goes back to the producer.
    func receive(_ body: (Batch) -> Void) {
        var ready: [Batch] = []
        while full.take(into: &ready) {
            for b in ready {
                body(b)
                free.put(b)
            }
            ready.removeAll(keepingCapacity: true)
        }
    }
}
