import Packets
import Vocabulary

/// What the reassembler found, in order. A call to `TCPReassembler.process` (or `expireIdle`,
/// `finishAll`) replaces `TCPReassembler.events` with the events it produced; the bytes of a
/// `data` event are valid until the reassembler's next call.
public enum StreamEvent {
    /// A connection was first seen.
    case opened(Connection)
    /// In-order bytes of one direction of the connection with this handle.
    case data(handle: Int, Direction, UnsafeRawBufferPointer, SegmentMeta)
    /// `length` bytes of one direction are missing from the capture.
    case gap(handle: Int, Direction, length: Int, time: Timestamp)
    /// The connection ended; no further events name its handle until another connection takes it.
    case closed(Connection, CloseReason)
}

/// Facts about the packet that carried delivered bytes.
public struct SegmentMeta: Sendable {
    public var time: Timestamp
    public var ttl: UInt8
    public var ipID: UInt16?
}

/// Named hard limits of the reassembler.
public struct ReassemblyLimits: Sendable {
    /// Bytes held out of order per direction before the hole is declared a gap.
    public var maxHeldBytesPerDirection = Limits.heldBytesPerDirection
    /// Connections tracked at once; past it the least recently active are closed (`table-full`).
    public var maxConnections = Limits.connections
    /// Seconds without a packet before a connection is closed (`idle`). RFC 5321 §4.5.3.2 allows
    /// a server to wait 10 minutes for the end of DATA.
    public var idleTimeout = Limits.idleTimeout
    /// Delivered bytes remembered per direction to check retransmissions against.
    public var retransmissionHistory = Limits.retransmissionHistory
    /// An ACK further than this past the next expected byte is taken as bogus, not as a hole.
    public var maxAckedHole = Limits.ackedHole
    public init() {}
}

/// A flow table key: both endpoints in a fixed order, and where they were seen.
struct FlowKey: Equatable {
    var vantage: Vantage
    var low: Endpoint
    var high: Endpoint
    init(_ v: Vantage, _ a: Endpoint, _ b: Endpoint) {
        vantage = v
        if a < b { low = a; high = b } else { low = b; high = a }
    }
}

/// TCP stream reassembly: a flow table, per-direction ordering, retransmission handling and
/// explicit gaps. No I/O, no callbacks: segments in, `events` out.
///
/// Ordering across directions: before a segment's data is delivered, its ACK field is honoured —
/// every byte of the other direction that it acknowledges is delivered first (or declared a gap,
/// since the receiver had it but the capture did not). So a reply is never delivered before the
/// command it answers.
public final class TCPReassembler {
    public let limits: ReassemblyLimits
    /// What the last call found (see `StreamEvent`).
    public private(set) var events: [StreamEvent] = []
    /// Held bytes delivered by the last call, kept until the next one: data events point into them.
    private var delivered: [HeldBytes] = []
    /// Connections by handle, and the handles free for new connections.
    private var byHandle: [Connection?] = []
    private var freeHandles: [Int] = []
    /// Ports whose side is the server when no handshake was seen.
    public var serverPorts: Set<UInt16>
    /// Given a direction's first bytes, says whether they look like a server greeting (true), a
    /// client command (false), or cannot tell (nil). Used only when no handshake was seen.
    public var speaksFirst: ((UnsafeRawBufferPointer) -> Bool?)?

    private var table = FlowTable()
    private var nextID = 1
    private var lastSweep: Timestamp?
    public private(set) var connectionsSeen = 0
    public private(set) var evicted = 0

    public init(limits: ReassemblyLimits = .init(), serverPorts: Set<UInt16> = [25, 465, 587, 2525]) {
        self.limits = limits
        self.serverPorts = serverPorts
    }

    public var openConnections: Int { table.values.lazy.filter { !$0.isClosed }.count }
    /// No connection still open was first seen before this, as of the last sweep (once a second of
    /// capture time): a connection yet to end began at or after it.
    public private(set) var horizon = Timestamp.zero

    // MARK: - Segments

    /// Takes one segment; `events` then holds what it made known.
    public func process(_ seg: TCPSegment, time: Timestamp, vantage: Vantage) {
        startCall()
        sweepIfDue(time)
        let key = FlowKey(vantage, seg.source, seg.destination)
        let isSyn = seg.flags.contains(.syn)
        let isAck = seg.flags.contains(.ack)
        guard let c = connection(for: seg, key: key, isSyn: isSyn, isAck: isAck, time: time, vantage: vantage) else { return }
        if c.ignored { return }
        c.lastSeen = time
        let dir = c.direction(from: seg.source)
        let d = dir.rawValue.index
        c.stats[d].count(seg)

        if isSyn {
            if !isAck {
                c.synTime = c.synTime ?? time
                if dir == .toServer { c.clientISN = seg.seq }
            } else {
                c.synAckTime = c.synAckTime ?? time
            }
            c.stats[d].synOptions = seg.options
            c.stats[d].isn = seg.seq
            if !c.halves[d].initialized || c.halves[d].next == c.halves[d].unwrap(seg.seq) {
                c.halves[d].start(at: seg.seq &+ 1)
            }
        } else if isAck, c.handshakeAckTime == nil, c.synAckTime != nil, dir == .toServer {
            c.handshakeAckTime = time
        }
        if !c.halves[d].initialized { c.halves[d].start(at: seg.seq) }

        // Honour the ACK first: what the other side acknowledged was sent before this segment.
        if isAck, !seg.flags.contains(.rst) {
            let peer = 1 - d
            if c.halves[peer].initialized {
                var acked = c.halves[peer].unwrap(seg.ack)
                if let fin = c.halves[peer].finAt { acked = min(acked, fin) }
                let hole = acked - c.halves[peer].next
                if hole > 0, hole <= limits.maxAckedHole {
                    flush(c, peer, upTo: acked, time: time)
                    if c.ignored || c.isClosed { return }
                }
            }
        }

        if seg.wireLength > 0 || !seg.payload.isEmpty {
            let start = c.halves[d].unwrap(seg.seq &+ (isSyn ? 1 : 0))
            accept(c, d, start: start, seg: seg, time: time)
            if c.ignored || c.isClosed { return }
        }

        if seg.flags.contains(.fin) {
            let dataEnd = c.halves[d].unwrap(seg.seq) + Int64(seg.wireLength) + (isSyn ? 1 : 0)
            if c.halves[d].finAt == nil { c.halves[d].finAt = dataEnd }
            checkFinished(c, d, time: time)
        }
        if seg.flags.contains(.rst) {
            flush(c, 0, upTo: nil, time: time)
            if !c.isClosed { flush(c, 1, upTo: nil, time: time) }
            if !c.isClosed { close(c, .rst) }
        }
    }

    /// The connection a segment belongs to, opened when the segment begins one; nil when the
    /// segment is absorbed or dropped. A helper of its own so that `process` holds the
    /// connection in one reference: the two optionals it used cost two more retain–release
    /// pairs for every packet.
    private func connection(for seg: TCPSegment, key: FlowKey, isSyn: Bool, isAck: Bool, time: Timestamp, vantage: Vantage) -> Connection? {
        if let c = table[key] {
            if isSyn, !isAck, seg.source != c.client || c.clientISN != seg.seq || c.isClosed {
                // A SYN on a known 4-tuple that is not the same SYN again, or that comes after
                // the end: the port reused by a new connection.
                if !c.isClosed { close(c, .portReuse) }
                forget(key)
            } else if c.isClosed {
                // Stray packets after the end (last ACKs, late retransmissions) are absorbed.
                c.lastSeen = time
                return nil
            } else {
                return c
            }
        }
        guard isSyn || !seg.payload.isEmpty || seg.wireLength > 0 else { return nil }
        return open(seg, key: key, time: time, vantage: vantage)
    }

    /// A new call: the last call's events and the bytes they point into are let go.
    @inline(__always) private func startCall() {
        if !events.isEmpty { events.removeAll(keepingCapacity: true) }
        if !delivered.isEmpty { delivered.removeAll(keepingCapacity: true) }
    }

    /// The connection with this handle, while the reassembler tracks it.
    public func connection(_ handle: Int) -> Connection? {
        byHandle.indices.contains(handle) ? byHandle[handle] : nil
    }

    /// The consumer stops following the connection (it is not SMTP): it is closed with reason
    /// `ignored`, what it held is dropped, and no further events name it. No event is made: the
    /// consumer knows. Events of the current call that name it are still in `events`.
    public func ignore(_ handle: Int) {
        guard let c = connection(handle), !c.isClosed else { return }
        c.ignored = true
        c.closeReason = .ignored
        release(c)
    }

    /// Takes the connection out of the table, and frees its handle.
    private func forget(_ key: FlowKey) {
        guard let c = table.removeValue(forKey: key) else { return }
        byHandle[c.handle] = nil
        freeHandles.append(c.handle)
    }

    private func open(_ seg: TCPSegment, key: FlowKey, time: Timestamp, vantage: Vantage) -> Connection? {
        if table.count >= limits.maxConnections { evictOldest() }
        var client = seg.source, server = seg.destination
        var handshake = false
        if seg.flags.contains(.syn) {
            handshake = true
            if seg.flags.contains(.ack) { swap(&client, &server) }
        } else {
            let srcIsServer = serverPorts.contains(seg.source.port), dstIsServer = serverPorts.contains(seg.destination.port)
            if srcIsServer && !dstIsServer || (srcIsServer == dstIsServer && seg.source.port < seg.destination.port) {
                swap(&client, &server)
            }
            if let hint = speaksFirst, !seg.payload.isEmpty, let serverFirst = hint(seg.payload) {
                // The side that greets is the server.
                if serverFirst != (seg.source == server) { swap(&client, &server) }
            }
        }
        let handle: Int
        if let free = freeHandles.popLast() {
            handle = free
        } else {
            handle = byHandle.count
            byHandle.append(nil)
        }
        let c = Connection(id: nextID, handle: handle, vantage: vantage, client: client, server: server, fromHandshake: handshake, time: time)
        byHandle[handle] = c
        nextID += 1
        connectionsSeen += 1
        table[key] = c
        events.append(.opened(c))
        return c
    }

    /// Places a data segment starting at absolute position `start`.
    private func accept(_ c: Connection, _ d: Int, start: Int64, seg: TCPSegment, time: Timestamp) {
        let next = c.halves[d].next
        let end = start + Int64(seg.wireLength)
        let meta = SegmentMeta(time: time, ttl: seg.ip.ttl, ipID: seg.ip.ipID)
        if end <= next {
            if seg.wireLength <= 1, start == next - 1 {
                c.stats[d].keepAlives += 1  // keep-alive: one old byte (or none) below the window
                return
            }
            c.stats[d].retransmissions += 1
            compareRetransmission(c, d, start: start, bytes: seg.payload)
            return
        }
        if start <= next {
            let skip = Int(next - start)
            if skip > 0 {
                c.stats[d].retransmissions += 1
                compareRetransmission(c, d, start: start, bytes: UnsafeRawBufferPointer(rebasing: seg.payload[..<min(skip, seg.payload.count)]))
            }
            if skip < seg.payload.count {
                deliver(c, d, UnsafeRawBufferPointer(rebasing: seg.payload[skip...]), meta: meta)
                if c.ignored { return }
            }
            let captured = start + Int64(seg.payload.count)
            if captured < end {
                // Cut by the snapshot length: the bytes existed but were not captured.
                gap(c, d, from: max(captured, next), to: end, time: time)
            }
            drainHeld(c, d)
        } else {
            hold(c, d, start: start, seg: seg, time: time)
        }
        if !c.ignored { checkFinished(c, d, time: time) }
    }

    private func deliver(_ c: Connection, _ d: Int, _ bytes: UnsafeRawBufferPointer, meta: SegmentMeta) {
        guard !bytes.isEmpty else { return }
        let end = c.halves[d].next + Int64(bytes.count)
        c.halves[d].advance(to: end)
        // Remember the most recent bytes for the retransmission check.
        c.halves[d].recent.append(bytes, endingAt: end, capacity: limits.retransmissionHistory)
        c.stats[d].bytes += bytes.count
        events.append(.data(handle: c.handle, Direction(rawValue: UInt8(d))!, bytes, meta))
    }

    private func compareRetransmission(_ c: Connection, _ d: Int, start: Int64, bytes: UnsafeRawBufferPointer) {
        let h = c.halves[d].recent
        let from = max(start, h.start), to = min(start + Int64(bytes.count), h.end)
        guard from < to else { return }
        for pos in from..<to where bytes[Int(pos - start)] != h.byte(at: pos) {
            c.stats[d].inconsistentRetransmissions += 1
            c.anomalies.append(Anomaly(
                .tcpRetransmissionInconsistent,
                "retransmitted bytes differ from the first copy (\(d == 0 ? "client" : "server") side); the first copy was kept",
                at: c.lastSeen))
            return
        }
    }

    /// Keeps an out-of-order segment, storing only bytes not already held (first copy wins).
    private func hold(_ c: Connection, _ d: Int, start: Int64, seg: TCPSegment, time: Timestamp) {
        c.stats[d].outOfOrder += 1
        var pieces: [(Int64, Int64)] = [(start, start + Int64(seg.payload.count))]
        for held in c.halves[d].held {
            pieces = pieces.flatMap { piece -> [(Int64, Int64)] in
                let (a, b) = piece
                if held.end <= a || held.start >= b { return [piece] }
                if held.start <= a && held.end >= b {
                    c.stats[d].retransmissions += 1
                    return []
                }
                var out: [(Int64, Int64)] = []
                if held.start > a { out.append((a, held.start)) }
                if held.end < b { out.append((held.end, b)) }
                return out
            }
        }
        for (a, b) in pieces where b > a {
            let bytes = HeldBytes(UnsafeRawBufferPointer(rebasing: seg.payload[Int(a - start)..<Int(b - start)]))
            let piece = HeldSegment(start: a, bytes: bytes, time: time)
            let i = c.halves[d].held.firstIndex { $0.start > a } ?? c.halves[d].held.endIndex
            c.halves[d].held.insert(piece, at: i)
            c.halves[d].heldBytes += piece.cost
        }
        let wireEnd = start + Int64(seg.wireLength)
        if wireEnd > start + Int64(seg.payload.count) {
            // Snaplen-cut bytes of a held segment become a gap when the stream reaches them; keep a
            // zero-length marker so the flush knows where the segment ended.
            let marker = HeldSegment(start: wireEnd, bytes: HeldBytes(UnsafeRawBufferPointer(start: nil, count: 0)), time: time)
            let i = c.halves[d].held.firstIndex { $0.start > wireEnd } ?? c.halves[d].held.endIndex
            c.halves[d].held.insert(marker, at: i)
            c.halves[d].heldBytes += marker.cost
        }
        if c.halves[d].heldBytes > limits.maxHeldBytesPerDirection, let first = c.halves[d].held.first {
            c.anomalies.append(Anomaly(
                .tcpHeldBytesLimit,
                "more than \(limits.maxHeldBytesPerDirection) bytes held out of order; the missing bytes were declared a gap",
                at: time))
            flush(c, d, upTo: first.start, time: time)
        }
    }

    /// Delivers held segments that have become contiguous.
    private func drainHeld(_ c: Connection, _ d: Int) {
        while !c.ignored, let first = c.halves[d].held.first, first.start <= c.halves[d].next {
            c.halves[d].held.removeFirst()
            c.halves[d].heldBytes -= first.cost
            let skip = Int(c.halves[d].next - first.start)
            if skip < first.bytes.count {
                // The event points into the held bytes: they are kept until the next call.
                delivered.append(first.bytes)
                let p = UnsafeRawBufferPointer(first.bytes.buffer)
                deliver(c, d, UnsafeRawBufferPointer(rebasing: p[skip...]), meta: SegmentMeta(time: first.time, ttl: 0, ipID: nil))
            }
        }
    }

    /// Delivers everything of direction `d` up to `limit` (nil: everything held), declaring gaps
    /// where bytes are missing.
    private func flush(_ c: Connection, _ d: Int, upTo limit: Int64?, time: Timestamp) {
        while !c.ignored, !c.isClosed {
            drainHeld(c, d)
            guard let first = c.halves[d].held.first else { break }
            if let limit, first.start >= limit { break }
            gap(c, d, from: c.halves[d].next, to: first.start, time: time)
        }
        if let limit, !c.ignored, !c.isClosed, limit > c.halves[d].next {
            gap(c, d, from: c.halves[d].next, to: limit, time: time)
            drainHeld(c, d)
        }
    }

    private func gap(_ c: Connection, _ d: Int, from: Int64, to: Int64, time: Timestamp) {
        guard to > from, !c.ignored else { return }
        c.halves[d].advance(to: to)
        c.halves[d].recent.reset(at: to)
        c.stats[d].gaps += 1
        c.stats[d].gapBytes += Int(to - from)
        events.append(.gap(handle: c.handle, Direction(rawValue: UInt8(d))!, length: Int(to - from), time: time))
    }

    private func checkFinished(_ c: Connection, _ d: Int, time: Timestamp) {
        guard let fin = c.halves[d].finAt, c.halves[d].next >= fin, !c.halves[d].finished else { return }
        c.halves[d].finished = true
        if c.halves[1 - d].finished || !c.halves[1 - d].initialized, !c.isClosed {
            close(c, .fin)
        }
    }

    private func close(_ c: Connection, _ reason: CloseReason) {
        guard c.closeReason == nil else { return }
        c.closeReason = reason
        release(c)
        events.append(.closed(c, reason))
    }

    /// Drops what a closed connection held.
    private func release(_ c: Connection) {
        for d in 0..<2 {
            c.halves[d].held = []
            c.halves[d].heldBytes = 0
            c.halves[d].recent.release()
        }
    }

    // MARK: - Time and limits

    private func sweepIfDue(_ now: Timestamp) {
        guard let last = lastSweep else {
            lastSweep = now
            return
        }
        guard now.seconds(since: last) >= 1 else { return }
        lastSweep = now
        sweep(now)
    }

    /// Closes connections idle for longer than the limit, and forgets closed ones; `events` then
    /// holds what that made known.
    public func expireIdle(_ now: Timestamp) {
        startCall()
        sweep(now)
    }

    private func sweep(_ now: Timestamp) {
        let limit = limits.idleTimeout
        var expired: [(key: FlowKey, id: Int)] = []
        var oldest = now
        table.forEach { key, c in
            let idle = now.seconds(since: c.lastSeen)
            // Closed connections are kept a little while to absorb stray packets, then forgotten.
            if idle > limit || (c.isClosed && idle > 60) {
                expired.append((key, c.id))
            } else if !c.isClosed {
                oldest = min(oldest, c.firstSeen)
            }
        }
        expired.sort { $0.id < $1.id }
        for (key, _) in expired {
            guard let c = table[key] else { continue }
            forget(key)
            if !c.isClosed { finish(c, .idle, now) }
        }
        horizon = oldest
    }

    private func finish(_ c: Connection, _ reason: CloseReason, _ now: Timestamp) {
        for d in 0..<2 where !c.isClosed { flush(c, d, upTo: nil, time: now) }
        close(c, reason)
    }

    private func evictOldest() {
        // Evict a batch so that a flood costs O(n log n) per n/8 new connections, not O(n) each.
        // Ties in activity go to the connection opened first: the table's order depends on its
        // hash seed, which differs between runs, and the output must not.
        let victims = table.entries.sorted { ($0.value.lastSeen, $0.value.id) < ($1.value.lastSeen, $1.value.id) }.prefix(max(1, limits.maxConnections / 8))
        for (key, c) in victims {
            forget(key)
            if !c.isClosed {
                evicted += 1
                c.anomalies.append(Anomaly(.tcpConnectionTableFull, "closed early: more than \(limits.maxConnections) connections open at once", at: c.lastSeen))
                finish(c, .tableFull, c.lastSeen)
            }
        }
    }

    /// The capture ended: every open connection is flushed (holes become gaps) and closed.
    public func finishAll(at now: Timestamp) {
        startCall()
        let open = table.values.filter { !$0.isClosed }.sorted { $0.id < $1.id }
        for c in open { finish(c, .captureEnd, now) }
        table.removeAll()
        byHandle.removeAll()
        freeHandles.removeAll()
    }
}

extension UInt8 {
    @inline(__always) var index: Int { Int(self) }
}
