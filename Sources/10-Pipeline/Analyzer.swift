import Synchronization
import Capture
import Packets
import Reassembly
import SMTP
import Vocabulary
import Sessions
import TLS

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
    public var sessions = SessionBuilder.Limits()
    /// TLS secrets (NSS key log) to decrypt STARTTLS and implicit TLS with; nil reads only the handshakes.
    public var keyLog: KeyLogStore?
    /// Session numbers shared by the analyzers of several capture workers, so that each session
    /// has its own; nil: this analyzer numbers its sessions from 1.
    public var sessionNumbers: SessionNumbers?
    /// The packets of the capture files that are read (filter and time window); also when the
    /// files are read again for a connection's two copies.
    public var selection = PacketSelection()
    /// Told the time of the first packet read (for relative times in the text output).
    public var captureStart: CaptureStart?
    public init() {}
}

/// Session numbers handed out to several analyzers at once (live capture workers).
public final class SessionNumbers: Sendable {
    private let last = Atomic<Int>(0)
    public init() {}
    public func next() -> Int { last.add(1, ordering: .relaxed).newValue }
}

/// Capture packets in, sessions and transactions out: packet decoding, TCP reassembly, SMTP
/// decoding and transaction building wired together. Single-threaded, no I/O of its own: the
/// driver (`Driver`) puts stages on threads.
public final class Analyzer {
    public let options: AnalyzerOptions
    public private(set) var packetStats = PacketStats()
    public private(set) var sessionsSeen = 0
    public private(set) var lastTime = Timestamp.zero
    private var sawPacket = false
    private let reassembler: TCPReassembler
    /// The SMTP stage, or the hand-over to it.
    private let stage: SessionInput
    /// Session slots: the highest in use, and those free again.
    private var slotsInUse = 0
    private var freeSlots: [Int] = []
    /// Per connection, by its handle: the slot of its SMTP session (`noSession` until there is
    /// one, `ignoredConnection` once it is known not to carry SMTP).
    private var sessionSlot: [Int] = []
    private static let noSession = -1, ignoredConnection = -2
    /// Connections not on an SMTP port whose first bytes are being looked at, by handle.
    private var candidates: [Int: Candidate] = [:]
    private var reportedHorizon = Timestamp.zero
    /// One packet decoder per input file (its fragment table and counters), indexed by file number.
    private var decoders: [FileDecoder?] = []

    /// Holds a file's decoder so that it is used in place (an optional struct in an array is
    /// copied to be tested).
    private final class FileDecoder {
        var decoder: PacketDecoder
        init(_ linkType: LinkType) { decoder = PacketDecoder(linkType: linkType) }
    }

    /// A connection not on an SMTP port, while its first bytes are held to see whether it
    /// carries SMTP.
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

    /// The TCP stage and the SMTP stage, on the caller's thread: finished transactions and
    /// sessions go to `sink`.
    public convenience init(options: AnalyzerOptions = .init(), sink: RecordSink) {
        self.init(options: options, next: SessionStage(sink: sink, decoderOptions: options.decoder, limits: options.sessions, keyLog: options.keyLog))
    }

    /// The TCP stage, handing each session's bytes, gaps and end on to `next`.
    public init(options: AnalyzerOptions = .init(), next: SessionInput) {
        self.options = options
        self.stage = next
        self.reassembler = TCPReassembler(limits: options.reassembly, serverPorts: options.ports)
        reassembler.speaksFirst = SMTPDetector.speaksFirst
    }

    /// Feeds one captured packet of a file whose link type is `linkType`.
    public func packet(_ p: RawPacket, linkType: LinkType) {
        if !sawPacket {
            sawPacket = true
            options.captureStart?.note(p.time)
        }
        lastTime = max(lastTime, p.time)
        let file = p.vantage.file
        if file >= decoders.count { decoders += Array(repeating: nil, count: file + 1 - decoders.count) }
        let d: FileDecoder
        if let existing = decoders[file] { d = existing } else { d = FileDecoder(linkType); decoders[file] = d }
        let time = p.time, vantage = p.vantage
        if options.detectByContent {
            d.decoder.decode(p.bytes, wireLength: p.wireLength, time: time) { seg in
                self.segment(seg, time: time, vantage: vantage)
            }
        } else {
            let ports = options.ports
            d.decoder.decode(p.bytes, wireLength: p.wireLength, time: time) { seg in
                guard ports.contains(seg.source.port) || ports.contains(seg.destination.port) else { return }
                self.segment(seg, time: time, vantage: vantage)
            }
        }
    }

    /// The input ended: open connections are flushed and closed.
    public func finish() {
        reassembler.finishAll(at: lastTime)
        takeEvents()
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
    public func expireIdle(now: Timestamp) {
        reassembler.expireIdle(now)
        takeEvents()
    }

    /// Feeds one TCP segment (from `packet`, or decoded elsewhere: see `CombinedCopies`).
    public func segment(_ seg: TCPSegment, time: Timestamp, vantage: Vantage) {
        lastTime = max(lastTime, time)
        reassembler.process(seg, time: time, vantage: vantage)
        takeEvents()
    }

    // MARK: - Stream events

    /// Acts on what the reassembler's last call found. The events are read in place, one at a
    /// time: handing the array over (or iterating a copy) retained and released its buffer at
    /// every packet, a few per cent of the per-packet cost. Nothing done here changes `events`.
    private func takeEvents() {
        var i = 0
        while i < reassembler.events.count {
            defer { i += 1 }
            switch reassembler.events[i] {
            case .data(let handle, let direction, let bytes, let meta): data(handle, direction, bytes, meta)
            case .opened(let c): opened(c)
            case .gap(let handle, let direction, let length, let time): gap(handle, direction, length: length, at: time)
            case .closed(let c, let reason): closed(c, reason)
            }
        }
    }

    private func opened(_ c: Connection) {
        if c.handle >= sessionSlot.count { sessionSlot += Array(repeating: Self.noSession, count: c.handle + 1 - sessionSlot.count) }
        sessionSlot[c.handle] = Self.noSession
        // On an SMTP port the session begins with its first byte (a SYN alone costs nothing);
        // elsewhere the first bytes must show SMTP.
        if !options.ports.contains(c.server.port), options.detectByContent {
            candidates[c.handle] = Candidate()
        }
    }

    /// The session of a connection on an SMTP port, begun at its first byte (or gap).
    private func portSession(_ handle: Int) -> Int? {
        guard let c = reassembler.connection(handle), options.ports.contains(c.server.port) else { return nil }
        return openSession(c)
    }

    /// The connection does not carry SMTP: the reassembler stops following it.
    private func ignore(_ handle: Int) {
        sessionSlot[handle] = Self.ignoredConnection
        candidates[handle] = nil
        reassembler.ignore(handle)
    }

    private func data(_ handle: Int, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ meta: SegmentMeta) {
        // The SMTP session's slot, once there is one (the common case, tested first).
        let known = sessionSlot[handle]
        if known >= 0 {
            stage.receive(known, direction, bytes, at: meta.time, ttl: meta.ttl, ipID: meta.ipID)
            return
        }
        guard known == Self.noSession else { return }
        guard let candidate = candidates[handle] else {
            guard let slot = portSession(handle) else { return ignore(handle) }
            stage.receive(slot, direction, bytes, at: meta.time, ttl: meta.ttl, ipID: meta.ipID)
            return
        }
        candidate.look(direction, bytes)
        let verdict = SMTPDetector.detect(server: candidate.server, client: candidate.client)
        // Most connections are ruled out by their first bytes: those are not copied again.
        if verdict == .no { return ignore(handle) }
        candidate.held.append(Candidate.Held(direction: direction, bytes: Array(bytes), meta: meta))
        switch verdict {
        case .no: return ignore(handle)
        case .undecided: if candidate.full { ignore(handle) }
        case .yes(let proxy, let preamble):
            guard let c = reassembler.connection(handle) else { return }
            let slot = openSession(c, proxy: proxy)
            candidates[handle] = nil
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
        }
    }

    private func gap(_ handle: Int, _ direction: Direction, length: Int, at time: Timestamp) {
        // Nothing to tell a connection still being looked at: it is not known to be SMTP.
        var slot = sessionSlot[handle]
        if slot == Self.noSession, candidates[handle] == nil { slot = portSession(handle) ?? Self.noSession }
        guard slot >= 0 else { return }
        stage.gap(slot, direction, length: length, at: time)
    }

    private func closed(_ c: Connection, _ reason: CloseReason) {
        let slot = sessionSlot[c.handle]
        sessionSlot[c.handle] = Self.noSession
        candidates[c.handle] = nil
        guard slot >= 0 else { return }
        stage.close(slot, ConnectionFacts(c, reason))
        freeSlots.append(slot)
        if reassembler.horizon.seconds(since: reportedHorizon) >= 1 {
            reportedHorizon = reassembler.horizon
            stage.horizon(reportedHorizon)
        }
    }

    // MARK: - Helpers

    /// Begins the connection's SMTP session.
    private func openSession(_ c: Connection, proxy: ProxyTunnel? = nil) -> Int {
        sessionsSeen += 1
        var s = Session(id: options.sessionNumbers?.next() ?? sessionsSeen, client: c.client, server: c.server, vantage: c.vantage, start: c.firstSeen, end: c.firstSeen)
        s.proxy = proxy
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = slotsInUse
            slotsInUse += 1
        }
        stage.open(slot, s)
        sessionSlot[c.handle] = slot
        return slot
    }
}
