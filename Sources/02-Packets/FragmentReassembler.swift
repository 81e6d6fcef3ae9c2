import Vocabulary

/// IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), bounded.
///
/// Overlapping fragments: the first copy of each byte wins (RFC 5722 forbids overlaps for IPv6;
/// we keep going rather than drop, and count them). Datagrams left incomplete for `timeout` seconds
/// of capture time, or pushed out by `maxDatagrams`, are discarded and counted.
public struct FragmentReassembler {
    public struct Limits: Sendable {
        /// Datagrams being reassembled at once.
        public var maxDatagrams = DefaultLimits.fragmentDatagrams
        /// Largest datagram payload accepted (the IP maximum).
        public var maxBytes = DefaultLimits.fragmentBytes
        /// Seconds of capture time before an incomplete datagram is dropped (RFC 791 suggests 15 s+).
        public var timeout = DefaultLimits.fragmentTimeout
        public init() {}
    }

    public struct Key: Hashable, Sendable {
        public var source: IPAddress
        public var destination: IPAddress
        public var id: UInt32
        public var proto: UInt8
    }

    struct Pending {
        var data: [UInt8] = []
        /// Byte ranges received, kept sorted and merged.
        var have: [Range<Int>] = []
        var total: Int?
        var firstSeen: Timestamp
    }

    public let limits: Limits
    var pending: [Key: Pending] = [:]
    public private(set) var dropped = 0
    public private(set) var overlaps = 0

    public init(limits: Limits) { self.limits = limits }

    /// Adds a fragment; returns the whole datagram payload once every byte is present.
    public mutating func add(
        _ key: Key, offset: Int, more: Bool, payload: UnsafeRawBufferPointer, time: Timestamp
    ) -> [UInt8]? {
        expire(before: time)
        let end = offset + payload.count
        guard end <= limits.maxBytes else {
            if pending.removeValue(forKey: key) != nil { dropped += 1 }
            return nil
        }
        if pending[key] == nil {
            if pending.count >= limits.maxDatagrams, let oldest = pending.min(by: { $0.value.firstSeen < $1.value.firstSeen })?.key {
                pending.removeValue(forKey: oldest)
                dropped += 1
            }
            pending[key] = Pending(firstSeen: time)
        }
        var p = pending[key]!
        if !more { p.total = end }
        if p.data.count < end { p.data.append(contentsOf: repeatElement(0, count: end - p.data.count)) }
        // Copy only bytes not yet present: first copy wins.
        var cursor = offset
        for have in p.have where have.upperBound > cursor && have.lowerBound < end {
            if have.lowerBound > cursor { copy(payload, from: offset, range: cursor..<have.lowerBound, into: &p.data) }
            if have.lowerBound < end, have.upperBound > offset { overlaps += 1 }
            cursor = max(cursor, have.upperBound)
        }
        if cursor < end { copy(payload, from: offset, range: cursor..<end, into: &p.data) }
        p.have = Self.merge(p.have, offset..<end)
        if let total = p.total, p.have.count == 1, p.have[0] == 0..<total {
            pending.removeValue(forKey: key)
            return Array(p.data[0..<total])
        }
        pending[key] = p
        return nil
    }

    private func copy(_ payload: UnsafeRawBufferPointer, from base: Int, range: Range<Int>, into data: inout [UInt8]) {
        for i in range { data[i] = payload[i - base] }
    }

    static func merge(_ ranges: [Range<Int>], _ new: Range<Int>) -> [Range<Int>] {
        var all = ranges + [new]
        all.sort { $0.lowerBound < $1.lowerBound }
        var out: [Range<Int>] = []
        for r in all where !r.isEmpty {
            if let last = out.last, r.lowerBound <= last.upperBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    mutating func expire(before now: Timestamp) {
        guard !pending.isEmpty else { return }
        let limit = Int64(limits.timeout * 1e9)
        let stale = pending.filter { now.nanoseconds - $0.value.firstSeen.nanoseconds > limit }.map(\.key)
        for key in stale { pending.removeValue(forKey: key) }
        dropped += stale.count
    }

    /// Datagrams still waiting for fragments.
    public var incompleteCount: Int { pending.count }
}
