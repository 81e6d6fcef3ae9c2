import Capture
import Packets
import Sessions
import Synchronization
import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Live capture by one or more workers, as Zeek's and Suricata's: each worker reads its own
/// capture handle (several share the interface through one PACKET_FANOUT group, which sends
/// every packet of a connection to the same handle) through TCP and SMTP stages of its own, on a
/// thread of its own; their records meet in one judging stage on the caller's thread, so the
/// output is one stream, each transaction written as soon as a worker finishes it.
public final class LiveWorkers {
    /// What a worker hands to the judging stage.
    private enum Record {
        case transaction(Transaction, Session)
        case session(Session)
        case horizon(worker: Int, Timestamp)
        /// The worker has stopped: its packet counters, and why it stopped when it failed.
        case done(worker: Int, PacketStats, CaptureError?)
    }

    /// A worker's records, tagged with the worker.
    private final class Forward: RecordSink {
        let worker: Int
        let queue: Handoff<Record>
        init(worker: Int, queue: Handoff<Record>) {
            self.worker = worker
            self.queue = queue
        }
        func transaction(_ t: Transaction, in session: Session) { queue.put(.transaction(t, session)) }
        func session(_ s: Session) { queue.put(.session(s)) }
        func horizon(_ time: Timestamp) { queue.put(.horizon(worker: worker, time)) }
    }

    /// How the run ended.
    public struct Result {
        /// Packets the workers read, together.
        public var packets = 0
        /// Per worker, the packets it read.
        public var perWorker: [Int] = []
        /// The first capture error a worker met.
        public var failure: CaptureError?
    }

    /// Runs a worker per capture until `tick` (called on this thread about every 200 ms, and
    /// after records were judged) returns true or every worker failed; then each worker ends its
    /// open sessions, and the judge finishes. `captures` are the workers' from here on.
    public static func run(_ captures: [LiveCapture], linkType: LinkType, options: AnalyzerOptions, judge: Judge, tick: () -> Bool) -> Result {
        var options = options
        if captures.count > 1 { options.sessionNumbers = SessionNumbers() }
        // Records are few (transactions and sessions, not packets): each wakes the judge, so a
        // transaction is written the moment it finishes.
        let queue = Handoff<Record>(capacity: Limits.judgeQueue, batch: 1)
        let stop = Atomic<Bool>(false)
        let workerOptions = options
        var threads: [WorkerThread] = []
        for (index, capture) in captures.enumerated() {
            // Handed to the thread: its capture (used by no other thread from here on), the
            // queue and the stop flag (both Sendable).
            let body = {
                let analyzer = Analyzer(options: workerOptions, sink: Forward(worker: index, queue: queue))
                var failure: CaptureError?
                var lastSweep = wallClock()
                while !stop.load(ordering: .relaxed) {
                    do throws(CaptureError) {
                        switch try capture.next() {
                        case .packet(let p): analyzer.packet(p, linkType: linkType)
                        case .timeout: break
                        }
                    } catch {
                        failure = error
                        break
                    }
                    let now = wallClock()
                    if now.seconds(since: lastSweep) >= 1 {
                        // No packets means no capture time passing: idle sessions are closed on
                        // the wall clock.
                        analyzer.expireIdle(now: now)
                        capture.flushDump()
                        lastSweep = now
                    }
                }
                analyzer.finish()
                capture.flushDump()
                queue.put(.done(worker: index, analyzer.packetStats, failure))
            }
            guard let t = WorkerThread(body) else {
                stop.store(true, ordering: .relaxed)
                for t in threads { t.join() }
                return Result(failure: CaptureError(file: capture.interface, problem: "cannot start a capture worker thread"))
            }
            threads.append(t)
        }

        var result = Result(perWorker: Array(repeating: 0, count: captures.count))
        var running = captures.count
        // The judge may let go of sessions that ended before every worker's horizon.
        var horizons = [Timestamp?](repeating: nil, count: captures.count)
        var forwarded = Timestamp.zero
        var batch: [Record] = []
        while running > 0 {
            _ = queue.take(into: &batch, waitingAtMost: 0.2)
            for r in batch {
                switch r {
                case .transaction(let t, let s): judge.transaction(t, in: s)
                case .session(let s): judge.session(s)
                case .horizon(let worker, let time):
                    horizons[worker] = time
                    // Workers that never reported one have not closed a session yet.
                    if let least = horizons.compactMap({ $0 }).min(), least > forwarded {
                        forwarded = least
                        judge.horizon(least)
                    }
                case .done(let worker, let stats, let failure):
                    running -= 1
                    result.packets += stats.packets
                    result.perWorker[worker] = stats.packets
                    if result.failure == nil, let failure {
                        result.failure = failure
                        // One worker failing ends the capture, as one handle failing did.
                        stop.store(true, ordering: .relaxed)
                    }
                }
            }
            batch.removeAll(keepingCapacity: true)
            if tick() { stop.store(true, ordering: .relaxed) }
        }
        for t in threads { t.join() }
        judge.finish(packets: result.packets)
        return result
    }
}

/// The wall clock, for what no packet's time can tell (idle sessions, durations).
public func wallClock() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec))
}
