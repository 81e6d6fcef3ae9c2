import Capture
import Packets
import Reassembly
import SMTP
import ScopeCore
import Sessions

/// Receives what the analysis produces, as soon as it is known.
public protocol RecordSink: AnyObject {
    /// A transaction finished (its outcome is known); `session` is the session so far.
    func transaction(_ t: Transaction, in session: Session)
    /// A session ended; its transactions were all delivered before.
    func session(_ s: Session)
    /// Every session still to come began at or after `time` (as far as one capture's clock
    /// tells): what needs to see later sessions can let go of those that ended well before.
    func horizon(_ time: Timestamp)
}

extension RecordSink {
    public func horizon(_ time: Timestamp) {}
}

/// Options of one analysis run.
public struct AnalyzerOptions: Sendable {
    /// Ports examined as SMTP without looking at content (RFC 5321 25, RFC 8314 465, RFC 6409 587, and 2525).
    public var ports: Set<UInt16> = [25, 465, 587, 2525]
    /// Look for SMTP on other ports by content: a 220 greeting answered by EHLO/HELO.
    public var detectByContent = true
    public var decoder = SMTPDecoder.Options()
    public var reassembly = ReassemblyLimits()
    /// Run the SMTP layer (decoding, sessions) on a thread of its own, beside the TCP layer.
    public var sessionThread = false
    /// With `sessionThread`: delivered segments, gaps and ends handed over to it at once.
    public var sessionBatch = Limits.sessionBatch
    public var sessions = SessionBuilder.Limits()
    public init() {}
}

/// Capture packets in, sessions and transactions out: packet decoding, TCP reassembly, SMTP
/// decoding and transaction building wired together. Single-threaded; no I/O of its own.
public final class Analyzer: ReassemblyDelegate {
    public let options: AnalyzerOptions
    public private(set) var packetStats = PacketStats()
    public private(set) var sessionsSeen = 0
    public private(set) var lastTime = Timestamp.zero
    private var reassembler: TCPReassembler<Analyzer>!
    private let stage: SessionStage
    private var reportedHorizon = Timestamp.zero
    /// One packet decoder per input file (its fragment table and counters), indexed by file number.
    private var decoders: [FileDecoder?] = []

    /// Holds a file's decoder so that it is used in place (an optional struct in an array is
    /// copied to be tested).
    private final class FileDecoder {
        var decoder: PacketDecoder
        init(_ linkType: LinkType) { decoder = PacketDecoder(linkType: linkType) }
    }

    /// A connection not on an SMTP port, kept in `Connection.context` while its first bytes are
    /// held to see whether it carries SMTP. An SMTP session's slot is the connection's `tag`.
    final class Candidate {
        /// The first bytes of each direction, decided on (at most `holdLimit` each).
        var server: [UInt8] = []
        var client: [UInt8] = []
        /// Everything delivered so far, in delivery order, with the time, TTL and IPv4 ID of its
        /// packet: replayed as it came once the connection is known to carry SMTP, so that its
        /// session reads exactly as it would on an SMTP port.
        var held: [Held] = []

        struct Held {
            var direction: Direction
            var bytes: [UInt8]
            var meta: SegmentMeta
        }

        /// Bytes of each direction examined before giving up on a connection.
        static let holdLimit = Limits.contentWindow

        /// Adds a delivered piece to the bytes decided on.
        func look(_ direction: Direction, _ bytes: UnsafeRawBufferPointer) {
            if direction == .toClient {
                server.append(contentsOf: bytes.prefix(Self.holdLimit - server.count))
            } else {
                client.append(contentsOf: bytes.prefix(Self.holdLimit - client.count))
            }
        }

        var full: Bool { server.count >= Self.holdLimit || client.count >= Self.holdLimit }
    }

    public init(options: AnalyzerOptions = .init(), sink: RecordSink) {
        self.options = options
        self.stage = SessionStage(sink: sink, decoderOptions: options.decoder, limits: options.sessions, threaded: options.sessionThread, batchItems: options.sessionBatch)
        self.reassembler = TCPReassembler(delegate: self, limits: options.reassembly, serverPorts: options.ports)
        reassembler.speaksFirst = Self.speaksFirst
    }

    /// Feeds one captured packet of a file whose link type is `linkType`.
    public func packet(_ p: RawPacket, linkType: LinkType) {
        lastTime = max(lastTime, p.time)
        let file = p.vantage.file
        if file >= decoders.count { decoders += Array(repeating: nil, count: file + 1 - decoders.count) }
        let d: FileDecoder
        if let existing = decoders[file] { d = existing } else { d = FileDecoder(linkType); decoders[file] = d }
        // Taken out once per packet: the closure then refers to nothing it must retain.
        let reassembler = self.reassembler!
        let time = p.time, vantage = p.vantage
        if options.detectByContent {
            d.decoder.decode(p.bytes, wireLength: p.wireLength, time: time) { seg in
                reassembler.process(seg, time: time, vantage: vantage)
            }
        } else {
            let ports = options.ports
            d.decoder.decode(p.bytes, wireLength: p.wireLength, time: time) { seg in
                guard ports.contains(seg.source.port) || ports.contains(seg.destination.port) else { return }
                reassembler.process(seg, time: time, vantage: vantage)
            }
        }
    }

    /// The input ended: open connections are flushed and closed.
    public func finish() {
        reassembler.finishAll(at: lastTime)
        stage.finish()
        packetStats = decoders.compactMap { $0?.decoder }.reduce(into: PacketStats()) { total, d in
            total.packets += d.stats.packets
            total.tcp += d.stats.tcp
            total.notIP += d.stats.notIP
            total.notTCP += d.stats.notTCP
            total.malformed += d.stats.malformed
            total.truncated += d.stats.truncated
            total.fragments += d.stats.fragments
            total.reassembledDatagrams += d.stats.reassembledDatagrams
            total.offloadFrames += d.stats.offloadFrames
        }
    }

    /// Closes connections idle past the limit (live capture calls this as the clock moves).
    public func expireIdle(now: Timestamp) { reassembler.expireIdle(now) }

    /// Feeds one TCP segment decoded elsewhere (see `CombinedCopies`), as if a packet carried it.
    public func segment(_ seg: TCPSegment, time: Timestamp, vantage: Vantage) {
        lastTime = max(lastTime, time)
        reassembler.process(seg, time: time, vantage: vantage)
    }

    // MARK: - ReassemblyDelegate

    public func opened(_ c: Connection) {
        // On an SMTP port the session begins with its first byte (a SYN alone costs nothing);
        // elsewhere the first bytes must show SMTP.
        if !options.ports.contains(c.server.port), options.detectByContent {
            c.context = Candidate()
        }
    }

    /// The session of a connection on an SMTP port, begun at its first byte (or gap).
    private func portSession(_ c: Connection) -> Int? {
        guard options.ports.contains(c.server.port) else { return nil }
        return openSession(c)
    }

    public func data(_ c: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ meta: SegmentMeta) -> Bool {
        // The SMTP session's slot, once there is one (the common case, tested first).
        if let slot = c.tag {
            stage.receive(slot, direction, bytes, at: meta.time, ttl: meta.ttl, ipID: meta.ipID)
            return true
        }
        guard let candidate = c.context.map({ unsafeDowncast($0, to: Candidate.self) }) else {
            guard let slot = portSession(c) else { return false }
            stage.receive(slot, direction, bytes, at: meta.time, ttl: meta.ttl, ipID: meta.ipID)
            return true
        }
        candidate.look(direction, bytes)
        let verdict = Self.detect(server: candidate.server, client: candidate.client)
        // Most connections are ruled out by their first bytes: those are not copied again.
        if verdict == .no { return false }
        candidate.held.append(Candidate.Held(direction: direction, bytes: Array(bytes), meta: meta))
        switch verdict {
        case .no: return false
        case .undecided: return !candidate.full
        case .yes(let proxy, let preamble):
            let slot = openSession(c, proxy: proxy)
            c.context = nil
            // Replay what was held as it came, each piece with its own packet's facts, less the
            // proxy handshake: the SMTP decoder sees what it would have seen on an SMTP port.
            var skip = [preamble.client, preamble.server]
            for h in candidate.held {
                let d = Int(h.direction.rawValue)
                let drop = min(skip[d], h.bytes.count)
                skip[d] -= drop
                guard drop < h.bytes.count else { continue }
                h.bytes[drop...].withUnsafeBytes {
                    stage.receive(slot, h.direction, $0, at: h.meta.time, ttl: h.meta.ttl, ipID: h.meta.ipID)
                }
            }
            return true
        }
    }

    public func gap(_ c: Connection, _ direction: Direction, length: Int, at time: Timestamp) {
        // Nothing to tell a connection still being looked at: it is not known to be SMTP.
        guard let slot = c.tag ?? (c.context == nil ? portSession(c) : nil) else { return }
        stage.gap(slot, direction, length: length, at: time)
    }

    public func closed(_ c: Connection, _ reason: CloseReason) {
        guard let slot = c.tag else { return }
        stage.close(slot, ConnectionFacts(c, reason))
        if reassembler.horizon.seconds(since: reportedHorizon) >= 1 {
            reportedHorizon = reassembler.horizon
            stage.horizon(reportedHorizon)
        }
    }

    // MARK: - Helpers

    /// Begins the connection's SMTP session; its slot becomes the connection's tag.
    private func openSession(_ c: Connection, proxy: ProxyTunnel? = nil) -> Int {
        sessionsSeen += 1
        var s = Session(id: sessionsSeen, client: c.client, server: c.server, vantage: c.vantage, start: c.firstSeen, end: c.firstSeen)
        s.proxy = proxy
        let slot = stage.open(s)
        c.tag = slot
        return slot
    }

    /// Whether a connection on another port carries SMTP.
    public typealias Verdict = SMTPDetector.Verdict

    /// Whether a connection on another port carries SMTP, directly or inside a proxy tunnel.
    public enum Detection: Sendable, Equatable {
        /// SMTP: after the handshake of `proxy` when there is one, which takes the first
        /// `preamble` bytes of each direction (0 and 0 without a proxy).
        case yes(proxy: ProxyTunnel?, preamble: (client: Int, server: Int))
        case no
        case undecided

        public static func == (a: Detection, b: Detection) -> Bool {
            switch (a, b) {
            case (.no, .no), (.undecided, .undecided): return true
            case (.yes(let p, let x), .yes(let q, let y)): return p == q && x == y
            default: return false
            }
        }
    }

    /// SMTP by content (see `classify`), also behind a SOCKS 4/4a/5 or HTTP CONNECT handshake
    /// (`ProxyPreamble`): the bytes after a completed handshake are classified as SMTP the usual
    /// way. A refused handshake opens no tunnel.
    public static func detect(server: [UInt8], client: [UInt8]) -> Detection {
        switch ProxyPreamble.parse(client: client, server: server) {
        case .none:
            switch classify(server: server, client: client) {
            case .yes: return .yes(proxy: nil, preamble: (0, 0))
            case .no: return .no
            case .undecided: return .undecided
            }
        case .incomplete: return .undecided
        case .refused: return .no
        case .tunnel(let proxy, let c, let s):
            switch classify(server: Array(server[s...]), client: Array(client[c...])) {
            case .yes: return .yes(proxy: proxy, preamble: (c, s))
            case .no: return .no
            case .undecided: return .undecided
            }
        }
    }

    /// SMTP by content: the server greets with `220`, the client answers EHLO or HELO.
    public static func classify(server: [UInt8], client: [UInt8]) -> Verdict {
        SMTPDetector.classify(server: server, client: client)
    }

    /// Says which side a mid-stream capture's first bytes come from (see `TCPReassembler.speaksFirst`).
    static func speaksFirst(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        SMTPDetector.speaksFirst(bytes)
    }
}
