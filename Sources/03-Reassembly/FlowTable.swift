import Vocabulary

/// The reassembler's flow table, looked up for every packet: open addressing with linear probing
/// and a multiply–xorshift hash of the flow's few words (Dictionary's SipHash costs several times
/// more per lookup). The hash is keyed by a random seed per table, so a crafted capture cannot
/// aim its flows at one bucket; the table's order therefore differs from run to run, and whoever
/// acts on several entries at once (eviction, the idle sweep) orders them by connection id first.
struct FlowTable {
    private var slots: [(key: FlowKey, value: Connection)?]
    private var mask: Int
    private let seed: UInt64
    private(set) var count = 0

    init() {
        slots = Array(repeating: nil, count: 1024)
        mask = 1023
        seed = UInt64.random(in: 1...UInt64.max) | 1
    }

    private func home(_ key: FlowKey) -> Int {
        Int(truncatingIfNeeded: key.mixedHash(seed: seed)) & mask
    }

    subscript(key: FlowKey) -> Connection? {
        get {
            var i = home(key)
            while let s = slots[i] {
                if s.key == key { return s.value }
                i = (i + 1) & mask
            }
            return nil
        }
        set {
            if let newValue { insert(key, newValue) } else { removeValue(forKey: key) }
        }
    }

    private mutating func insert(_ key: FlowKey, _ value: Connection) {
        var i = home(key)
        while let s = slots[i] {
            if s.key == key {
                slots[i] = (key, value)
                return
            }
            i = (i + 1) & mask
        }
        slots[i] = (key, value)
        count += 1
        // At most half full: probe runs stay short.
        if count * 2 > slots.count { rehash(slots.count * 2) }
    }

    @discardableResult
    mutating func removeValue(forKey key: FlowKey) -> Connection? {
        var i = home(key)
        while let s = slots[i] {
            if s.key == key {
                slots[i] = nil
                count -= 1
                fillHole(at: i)
                return s.value
            }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Backward-shift deletion: moves later members of the probe run into the hole, so lookups
    /// never need tombstones.
    private mutating func fillHole(at start: Int) {
        var hole = start
        var i = (start + 1) & mask
        while let s = slots[i] {
            let h = home(s.key)
            // `s` may move into the hole when its home is not in (hole, i], cyclically.
            let homeAfterHole = hole <= i ? (h > hole && h <= i) : (h > hole || h <= i)
            if !homeAfterHole {
                slots[hole] = s
                slots[i] = nil
                hole = i
            }
            i = (i + 1) & mask
        }
    }

    private mutating func rehash(_ size: Int) {
        let old = slots
        slots = Array(repeating: nil, count: size)
        mask = size - 1
        count = 0
        for case let s? in old { insert(s.key, s.value) }
    }

    mutating func removeAll() {
        slots = Array(repeating: nil, count: 1024)
        mask = 1023
        count = 0
    }

    /// Every entry, in table order.
    var entries: [(key: FlowKey, value: Connection)] { slots.compactMap { $0 } }
    func forEach(_ body: (FlowKey, Connection) -> Void) {
        for case let s? in slots { body(s.key, s.value) }
    }
    var values: [Connection] { slots.compactMap { $0?.value } }
}

extension FlowKey {
    /// A seeded multiply–xorshift over the key's words (Stafford's mix13 finaliser).
    func mixedHash(seed: UInt64) -> UInt64 {
        var h = seed
        func mix(_ w: UInt64) {
            h = (h ^ w) &* 0x9e37_79b9_7f4a_7c15
            h ^= h >> 32
        }
        func mix(_ e: Endpoint) {
            switch e.address {
            case .v4(let a): mix(UInt64(a) << 16 | UInt64(e.port))
            case .v6(let hi, let lo):
                mix(hi)
                mix(lo)
                mix(UInt64(e.port))
            }
        }
        mix(low)
        mix(high)
        mix(UInt64(truncatingIfNeeded: vantage.file) << 32 | UInt64(truncatingIfNeeded: vantage.interface))
        h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
        h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }
}
