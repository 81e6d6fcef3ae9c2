import Testing
@testable import Reassembly
import Vocabulary

/// The flow table is hand-written open addressing; it must behave as a dictionary under any mix of
/// insertions and removals (removal shifts probe runs back, which is where such tables go wrong).
@Suite struct FlowTableTests {
    struct Rng {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33) % n
        }
    }

    static func key(_ i: Int) -> FlowKey {
        // Few distinct addresses and ports: many keys share words, and IPv6 keys mix in.
        let a = Endpoint(i % 7 == 0 ? .v6(UInt64(i % 3), UInt64(i)) : .v4(UInt32(0x0a00_0000 + i % 5)), UInt16(1024 + i))
        let b = Endpoint(.v4(0xc000_0201), 25)
        return FlowKey(Vantage(file: i % 2), a, b)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func behavesAsADictionary(seed: UInt64) {
        var rng = Rng(state: seed)
        var table = FlowTable()
        var reference: [Int: Connection] = [:]
        var connections: [Int: Connection] = [:]
        func connection(_ i: Int) -> Connection {
            if let c = connections[i] { return c }
            let k = Self.key(i)
            let c = Connection(id: i, handle: i, vantage: k.vantage, client: k.low, server: k.high, fromHandshake: true, time: .zero)
            connections[i] = c
            return c
        }
        for step in 0..<20_000 {
            let i = rng.next(3000)
            switch rng.next(3) {
            case 0, 1:
                table[Self.key(i)] = connection(i)
                reference[i] = connection(i)
            default:
                #expect(table.removeValue(forKey: Self.key(i)) === reference.removeValue(forKey: i), "step \(step)")
            }
            if step % 997 == 0 {
                #expect(table.count == reference.count)
                for j in 0..<3000 { #expect(table[Self.key(j)] === reference[j], "key \(j) at step \(step)") }
            }
        }
        #expect(Set(table.values.map(\.id)) == Set(reference.keys))
    }
}
