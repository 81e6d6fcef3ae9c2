import Packets
import Vocabulary

/// Counters and facts about one direction of a connection.
public struct DirectionStats: Sendable, Equatable {
    public var packets = 0
    /// Payload bytes delivered in order (gaps excluded).
    public var bytes = 0
    public var retransmissions = 0
    /// Retransmitted bytes that differ from the first copy (first copy wins).
    public var inconsistentRetransmissions = 0
    public var outOfOrder = 0
    public var keepAlives = 0
    public var gaps = 0
    public var gapBytes = 0
    /// Distinct IPv4 TTL / IPv6 hop-limit values seen, in order of appearance (at most 8 kept).
    public var ttls = SmallByteSet()
    public var firstIPID: UInt16?
    public var lastIPID: UInt16?
    /// IPv4 IDs that did not follow the previous one by a small step (a different IP stack, or random IDs).
    public var ipIDJumps = 0
    /// Large-send-offload super-frames (see `IPInfo.offload`): one packet captured for what went
    /// out as several.
    public var offloadFrames = 0
    public var minWindow: UInt16 = .max
    public var maxWindow: UInt16 = 0
    /// Options from this side's SYN (or SYN-ACK).
    public var synOptions: TCPOptions?
    /// This side's initial sequence number, from its SYN (or SYN-ACK); nil when the handshake was
    /// not captured. Two captures of one connection share it; a proxy's new connection does not.
    public var isn: UInt32?
    public init() {}

    /// Counts one packet of this direction (in one access to the stats, for every packet).
    mutating func count(_ seg: TCPSegment) {
        packets += 1
        ttls.insert(seg.ip.ttl)
        if seg.ip.offload { offloadFrames += 1 }
        if let id = seg.ip.ipID {
            if let last = lastIPID {
                let step = id &- last
                if step > 64 && step < 0xffc0 { ipIDJumps += 1 }
            } else {
                firstIPID = id
            }
            lastIPID = id
        }
        minWindow = min(minWindow, seg.window)
        maxWindow = max(maxWindow, seg.window)
    }
}

/// One TCP connection, as tracked by the reassembler. Read-only to consumers: a consumer keeps
/// its own state per connection, indexed by `handle`.
public final class Connection {
    public let id: Int
    public let vantage: Vantage
    public private(set) var client: Endpoint
    public private(set) var server: Endpoint
    /// True when client and server were decided by a SYN or SYN-ACK; false when guessed from the
    /// ports or the first bytes (capture started mid-connection).
    public internal(set) var rolesFromHandshake: Bool
    public let firstSeen: Timestamp
    public internal(set) var lastSeen: Timestamp
    public internal(set) var synTime: Timestamp?
    var clientISN: UInt32?
    public internal(set) var synAckTime: Timestamp?
    public internal(set) var handshakeAckTime: Timestamp?
    public internal(set) var closeReason: CloseReason?
    public internal(set) var stats: [DirectionStats] = [DirectionStats(), DirectionStats()]
    /// Anomalies at the TCP level (inconsistent retransmissions, limits hit).
    public internal(set) var anomalies: [Anomaly] = []
    /// A small number that names the connection in stream events while the reassembler tracks
    /// it: dense (below the most connections tracked at once), so a consumer can keep its state
    /// in an array. Given to a new connection once this one has left the table.
    public let handle: Int

    var halves: [HalfStream] = [HalfStream(), HalfStream()]
    var ignored = false

    init(id: Int, handle: Int, vantage: Vantage, client: Endpoint, server: Endpoint, fromHandshake: Bool, time: Timestamp) {
        self.id = id
        self.handle = handle
        self.vantage = vantage
        self.client = client
        self.server = server
        self.rolesFromHandshake = fromHandshake
        self.firstSeen = time
        self.lastSeen = time
    }

    /// SYN to SYN-ACK and SYN-ACK to ACK, when the whole handshake was seen.
    public var handshakeHalves: (server: Double, client: Double)? {
        guard let syn = synTime, let synAck = synAckTime, let ack = handshakeAckTime else { return nil }
        return (synAck.seconds(since: syn), ack.seconds(since: synAck))
    }

    /// SYN to SYN-ACK to ACK: the round trip seen from the capture point, when the handshake was seen.
    public var handshakeRTT: Double? {
        guard let syn = synTime, let ack = handshakeAckTime else { return nil }
        return ack.seconds(since: syn)
    }

    func direction(from source: Endpoint) -> Direction { source == client ? .toServer : .toClient }

    func swapRoles() {
        swap(&client, &server)
        halves.swapAt(0, 1)
        stats.swapAt(0, 1)
    }

    public var isClosed: Bool { closeReason != nil }
}

/// Up to eight distinct bytes in order of first appearance, stored in one word.
public struct SmallByteSet: Sendable, Equatable, Sequence {
    private var packed: UInt64 = 0
    public private(set) var count = 0

    public init() {}

    public func contains(_ b: UInt8) -> Bool {
        for i in 0..<count where UInt8(truncatingIfNeeded: packed >> (8 * UInt64(i))) == b { return true }
        return false
    }

    /// Adds `b` unless present or eight are held already.
    public mutating func insert(_ b: UInt8) {
        guard count < 8, !contains(b) else { return }
        packed |= UInt64(b) << (8 * UInt64(count))
        count += 1
    }

    public func makeIterator() -> IndexingIterator<[UInt8]> {
        (0..<count).map { UInt8(truncatingIfNeeded: packed >> (8 * UInt64($0))) }.makeIterator()
    }
}

/// Bytes of a held segment, in memory of their own: a data event points into them, and they
/// stay where they are until the reassembler's next call (it keeps them that long).
final class HeldBytes {
    let buffer: UnsafeMutableRawBufferPointer
    var count: Int { buffer.count }
    init(_ bytes: UnsafeRawBufferPointer) {
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        if !bytes.isEmpty { buffer.copyMemory(from: bytes) }
    }
    deinit { buffer.deallocate() }
}

/// A segment held because bytes before it are missing.
struct HeldSegment {
    var start: Int64
    var bytes: HeldBytes
    var time: Timestamp
    var end: Int64 { start + Int64(bytes.count) }
    /// What holding it costs against the limit: its bytes, and at least 64 for the entry itself, so
    /// that a flood of empty or tiny segments is bounded too.
    var cost: Int { max(bytes.count, 64) }
}

/// Sequence state of one direction. Sequence numbers are unwrapped to 64 bits relative to the
/// next expected byte, so 2^32 wrap-around is invisible above this type.
struct HalfStream {
    var initialized = false
    /// Absolute (unwrapped) sequence number of the next byte to deliver.
    var next: Int64 = 0
    /// Low 32 bits of `next`, for unwrapping.
    var nextWire: UInt32 = 0
    var held: [HeldSegment] = []
    var heldBytes = 0
    /// Absolute sequence number just past the last data byte, once a FIN was seen.
    var finAt: Int64?
    var finished = false
    /// The most recent delivered bytes, to compare retransmissions against.
    var recent = History()

    mutating func start(at seq: UInt32) {
        initialized = true
        next = Int64(seq)
        nextWire = seq
    }

    /// The absolute position of wire sequence number `seq`: the one closest to `next`.
    func unwrap(_ seq: UInt32) -> Int64 {
        next + Int64(Int32(bitPattern: seq &- nextWire))
    }

    mutating func advance(to position: Int64) {
        nextWire = nextWire &+ UInt32(truncatingIfNeeded: position - next)
        next = position
    }
}

/// The last `capacity` bytes delivered in one direction, in a ring: appending costs one copy of
/// the new bytes, never a shift of the old ones.
struct History {
    private var ring: [UInt8] = []
    private var write = 0
    /// Stream position just past the newest byte kept, and how many bytes are kept.
    private(set) var end: Int64 = 0
    private(set) var count = 0

    var start: Int64 { end - Int64(count) }

    mutating func append(_ bytes: UnsafeRawBufferPointer, endingAt position: Int64, capacity: Int) {
        guard capacity > 0 else { return }
        if ring.count < capacity, count + bytes.count > ring.count {
            // Grown as bytes arrive (to at most `capacity`): most server sides of an SMTP session
            // send a few hundred bytes in all, and memory follows the open connections.
            var size = max(256, ring.count)
            while size < count + bytes.count, size < capacity { size *= 2 }
            size = min(size, capacity)
            var grown = [UInt8](repeating: 0, count: size)
            if count > 0 {
                // Oldest to newest, in at most two copies.
                let oldest = (write - count + ring.count) % ring.count
                let first = min(count, ring.count - oldest)
                ring.withUnsafeBytes { r in
                    grown.withUnsafeMutableBytes { g in
                        g.baseAddress!.copyMemory(from: r.baseAddress! + oldest, byteCount: first)
                        if count > first { (g.baseAddress! + first).copyMemory(from: r.baseAddress!, byteCount: count - first) }
                    }
                }
            }
            ring = grown
            write = count % size
        }
        let capacity = ring.count
        // The newest `take` bytes, in at most two copies (the ring wraps once at most).
        let take = min(bytes.count, capacity)
        if take > 0, let from = bytes.baseAddress {
            let source = from + (bytes.count - take)
            let first = min(take, capacity - write)
            ring.withUnsafeMutableBytes { r in
                (r.baseAddress! + write).copyMemory(from: source, byteCount: first)
                if take > first { r.baseAddress!.copyMemory(from: source + first, byteCount: take - first) }
            }
            let w = write + take  // below twice the capacity
            write = w >= capacity ? w - capacity : w
        }
        count = min(capacity, count + take)
        end = position
    }

    /// The byte at stream position `p` (which must lie in `start..<end`).
    func byte(at p: Int64) -> UInt8 {
        let back = Int(end - p)  // 1 for the newest byte
        var i = write - back
        if i < 0 { i += ring.count }
        return ring[i]
    }

    mutating func reset(at position: Int64) {
        count = 0
        end = position
    }

    mutating func release() {
        ring = []
        count = 0
    }
}
