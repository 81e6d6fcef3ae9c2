import Capture
import Packets
import Vocabulary

/// Runs the pipeline over capture files, its stages on threads for speed: reading (the capture
/// set's prefetch), TCP (`Analyzer`, on the caller's thread), SMTP (`SessionStage`, behind a
/// `SessionHandover`), and judging and writing (`Judge` and whatever it writes to, behind a
/// `RecordHandover`). Each stage is the single-threaded one the tests drive; the hand-overs keep
/// the order of everything, so the output is what one thread writes.
public enum Driver {
    public struct Threads: Sendable {
        /// Work items and records handed over at once (smaller: the threads wait on each other
        /// more; the tests use that).
        public var sessionBatch = Limits.sessionBatch
        public var recordCapacity = Limits.judgeQueue
        public init() {}
    }

    /// Reads every packet of `captures` (files whose link type is nil are skipped) through the
    /// pipeline into `judge`, then lets the judge finish. `threads` nil: everything on the
    /// caller's thread. `progress`: told how far the reading is, every `ProgressLine.packetsPerTick`
    /// packets, and cleared at the end. Returns the TCP stage, for its counters.
    @discardableResult
    public static func read(_ captures: CaptureSet, linkTypes: [LinkType?], options: AnalyzerOptions, judge: Judge, threads: Threads? = Threads(), progress: ProgressLine? = nil) -> Analyzer {
        let records = threads.map { RecordHandover(judge, capacity: $0.recordCapacity) }
        let smtp = SessionStage(sink: records ?? judge, decoderOptions: options.decoder, limits: options.sessions, keyLog: options.keyLog)
        let analyzer = Analyzer(options: options, next: threads.map { SessionHandover(smtp, batchItems: $0.sessionBatch) } ?? smtp)
        var counted = 0
        let each: (RawPacket) -> Void = { packet in
            if let progress {
                counted &+= 1
                if counted % ProgressLine.packetsPerTick == 0 {
                    progress.tick(bytes: captures.bytesRead, packets: counted, sessions: analyzer.sessionsSeen)
                }
            }
            guard packet.vantage.file < linkTypes.count, let lt = linkTypes[packet.vantage.file] else { return }
            analyzer.packet(packet, linkType: lt)
        }
        if threads != nil { PacketPrefetch.forEach(captures, each) } else { captures.forEach(each) }
        progress?.clear()
        analyzer.finish()
        records?.drain()
        judge.nextSessionID = analyzer.sessionsSeen + 1
        judge.finish(packets: analyzer.packetStats.packets)
        return analyzer
    }
}
