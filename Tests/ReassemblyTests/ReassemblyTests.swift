import Testing
import Packets
@testable import Reassembly
import Vocabulary

/// Records what the reassembler delivers.
final class Recorder {
    var streams: [Int: [[UInt8]]] = [:]  // connection id -> [client bytes, server bytes]
    var order: [(Int, Direction, [UInt8])] = []
    var gaps: [(Int, Direction, Int)] = []
    var closes: [(Int, CloseReason)] = []
    var opened: [Connection] = []
    /// Connection ids by handle, as events name connections by handle.
    private var ids: [Int: Int] = [:]

    /// Takes the events of the reassembler's last call.
    func take(_ r: TCPReassembler) {
        for e in r.events {
            switch e {
            case .opened(let c):
                ids[c.handle] = c.id
                opened.append(c)
                streams[c.id] = [[], []]
            case .data(let h, let d, let bytes, _):
                let id = ids[h]!
                streams[id]![Int(d.rawValue)] += bytes
                order.append((id, d, Array(bytes)))
            case .gap(let h, let d, let length, _):
                let id = ids[h]!
                gaps.append((id, d, length))
                // A gap keeps positions honest: fill with '?' so stream lengths can be compared.
                streams[id]![Int(d.rawValue)] += [UInt8](repeating: UInt8(ascii: "?"), count: length)
            case .closed(let c, let reason):
                closes.append((c.id, reason))
            }
        }
    }

    func client(_ id: Int = 1) -> String { String(decoding: streams[id]?[0] ?? [], as: UTF8.self) }
    func server(_ id: Int = 1) -> String { String(decoding: streams[id]?[1] ?? [], as: UTF8.self) }
}

let clientEP = Endpoint(.v4(0xc000_020a), 51234)
let serverEP = Endpoint(.v4(0xc633_6419), 25)

/// One hand-built segment.
struct Seg {
    var fromClient: Bool
    var seq: UInt32
    var ack: UInt32 = 0
    var flags: TCPFlags = [.ack]
    var payload: [UInt8] = []
    var wireLength: Int? = nil

    static func c(_ seq: UInt32, _ s: String, ack: UInt32 = 0, flags: TCPFlags = [.ack, .psh]) -> Seg { Seg(fromClient: true, seq: seq, ack: ack, flags: flags, payload: Array(s.utf8)) }
    static func s(_ seq: UInt32, _ s: String, ack: UInt32 = 0, flags: TCPFlags = [.ack, .psh]) -> Seg { Seg(fromClient: false, seq: seq, ack: ack, flags: flags, payload: Array(s.utf8)) }
}

func run(_ segs: [Seg], limits: ReassemblyLimits = .init(), finish: Bool = true, startTime: Int64 = 0) -> Recorder {
    let rec = Recorder()
    let r = TCPReassembler(limits: limits)
    var t = startTime
    for s in segs {
        t += 1_000_000
        s.payload.withUnsafeBytes { p in
            let seg = TCPSegment(
                source: s.fromClient ? clientEP : serverEP, destination: s.fromClient ? serverEP : clientEP,
                seq: s.seq, ack: s.ack, flags: s.flags, window: 1000, options: TCPOptions(),
                ip: IPInfo(version: 4, ttl: 64, ipID: 1, reassembled: false), payload: p, wireLength: s.wireLength ?? p.count)
            r.process(seg, time: Timestamp(nanoseconds: t), vantage: Vantage(file: 0))
            rec.take(r)
        }
    }
    if finish { r.finishAll(at: Timestamp(nanoseconds: t + 1));  rec.take(r) }
    return rec
}

/// A handshake with client ISN `ci` and server ISN `si`.
func handshake(_ ci: UInt32, _ si: UInt32) -> [Seg] {
    [Seg(fromClient: true, seq: ci, flags: [.syn]), Seg(fromClient: false, seq: si, ack: ci &+ 1, flags: [.syn, .ack]), Seg(fromClient: true, seq: ci &+ 1, ack: si &+ 1)]
}

@Suite struct ReassemblyTests {
    @Test func inOrder() {
        let rec = run(handshake(100, 900) + [.s(901, "220 hi\r\n", ack: 101), .c(101, "EHLO x\r\n", ack: 909), .s(909, "250 ok\r\n", ack: 109)])
        #expect(rec.client() == "EHLO x\r\n")
        #expect(rec.server() == "220 hi\r\n250 ok\r\n")
        #expect(rec.gaps.isEmpty)
        #expect(rec.opened.first?.client == clientEP)
        #expect(rec.opened.first?.rolesFromHandshake == true)
        #expect(rec.closes.map(\.1) == [.captureEnd])
    }

    @Test func reversedSegmentsAreReordered() {
        let parts = ["MAIL ", "FROM:", "<a@b>", "\r\n"]
        var seq: UInt32 = 101
        var segs: [Seg] = []
        for p in parts {
            segs.append(.c(seq, p))
            seq += UInt32(p.utf8.count)
        }
        let rec = run(handshake(100, 900) + segs.reversed())
        #expect(rec.client() == "MAIL FROM:<a@b>\r\n")
        #expect(rec.opened.first.map { $0.stats[0].outOfOrder } == 3)
    }

    @Test func duplicatesAreDropped() {
        let rec = run(handshake(100, 900) + [.c(101, "ABCD"), .c(101, "ABCD"), .c(105, "EF"), .c(103, "CDEF")])
        #expect(rec.client() == "ABCDEF")
        #expect(rec.opened.first.map { $0.stats[0].retransmissions } == 2)
        #expect(rec.opened.first?.anomalies.isEmpty == true)
    }

    @Test func overlapWithDifferentBytesKeepsFirstCopyAndRecordsIt() {
        let rec = run(handshake(100, 900) + [.c(101, "ABCD"), .c(103, "XYEF")])
        #expect(rec.client() == "ABCDEF")
        #expect(rec.opened.first?.anomalies.map(\.name) == [.tcpRetransmissionInconsistent])
        // Out of order overlaps: first copy held wins too.
        let rec2 = run(handshake(100, 900) + [.c(105, "EFGH"), .c(103, "xxefgh"), .c(101, "AB")])
        #expect(rec2.client() == "ABxxEFGH")
    }

    @Test func wrapAroundAt2To32() {
        let isn: UInt32 = 0xffff_fff0
        let a = String(repeating: "a", count: 20), b = String(repeating: "b", count: 20)
        let rec = run(handshake(isn, 7) + [.c(isn &+ 1, a), .c(isn &+ 21, b)])
        #expect(rec.client() == a + b)
        #expect(rec.gaps.isEmpty)
    }

    @Test func holeFilledLate() {
        let rec = run(handshake(100, 900) + [.c(101, "AB"), .c(105, "EF"), .c(107, "GH"), .c(103, "CD")])
        #expect(rec.client() == "ABCDEFGH")
        #expect(rec.gaps.isEmpty)
    }

    @Test func holeNeverFilledBecomesAGapAtTheEnd() {
        let rec = run(handshake(100, 900) + [.c(101, "AB"), .c(105, "EF")])
        #expect(rec.client() == "AB??EF")
        #expect(rec.gaps.map(\.2) == [2])
    }

    @Test func holeAcknowledgedByTheReceiverIsAGapAtOnce() {
        // The server acknowledged bytes 101..<109 but the capture only has 105..<109: the reply
        // must come after a gap and the client's later bytes, never before.
        let rec = run(handshake(100, 900) + [.c(105, "EFGH"), .s(901, "250 ok\r\n", ack: 109)], finish: false)
        #expect(rec.gaps.map(\.2) == [4])
        #expect(rec.order.map { $0.1 } == [.toServer, .toClient])
        #expect(rec.client() == "????EFGH")
    }

    @Test func replyIsNeverDeliveredBeforeTheCommandItAnswers() {
        // The command's segment is captured after the reply that acknowledges it (captured out of
        // order); the ACK-driven flush must put the command first once it is seen as a hole...
        let rec = run(handshake(100, 900) + [.c(101, "MAIL x\r\n", ack: 901), .c(109, "RCPT y\r\n", ack: 901), .s(901, "250 a\r\n250 b\r\n", ack: 117)])
        #expect(rec.order.map { $0.1 } == [.toServer, .toServer, .toClient])
    }

    @Test func rstMidStream() {
        let rec = run(handshake(100, 900) + [.c(101, "AB"), .c(105, "EF"), Seg(fromClient: false, seq: 901, flags: [.rst])], finish: false)
        #expect(rec.closes.map(\.1) == [.rst])
        #expect(rec.client() == "AB??EF")
    }

    @Test(arguments: [true, false])
    func finFromEachSide(clientFirst: Bool) {
        var segs = handshake(100, 900) + [.c(101, "QUIT\r\n", ack: 901), .s(901, "221 bye\r\n", ack: 107)]
        let cfin = Seg(fromClient: true, seq: 107, ack: 910, flags: [.fin, .ack])
        let sfin = Seg(fromClient: false, seq: 910, ack: clientFirst ? 108 : 107, flags: [.fin, .ack])
        segs += clientFirst ? [cfin, sfin] : [sfin, cfin]
        let rec = run(segs, finish: false)
        #expect(rec.closes.map(\.1) == [.fin])
        #expect(rec.client() == "QUIT\r\n")
        #expect(rec.server() == "221 bye\r\n")
    }

    @Test func midStreamStartDecidesRolesByPortAndContent() {
        // No handshake; the first packet is the server's (port 25) reply.
        let rec = run([.s(5000, "250 ok\r\n"), .c(7000, "QUIT\r\n")])
        let c = rec.opened.first
        #expect(c?.client == clientEP)
        #expect(c?.rolesFromHandshake == false)
        #expect(rec.client() == "QUIT\r\n")
    }

    @Test func portReuseStartsANewConnection() {
        let first = handshake(100, 900) + [.c(101, "one"), Seg(fromClient: true, seq: 104, flags: [.fin, .ack]), Seg(fromClient: false, seq: 901, ack: 105, flags: [.fin, .ack])]
        let second = handshake(5000, 8000) + [.c(5001, "two")]
        let rec = run(first + second)
        #expect(rec.opened.count == 2)
        #expect(rec.client(1) == "one")
        #expect(rec.client(2) == "two")
        #expect(rec.closes.map(\.1) == [.fin, .captureEnd])
        // A retransmitted SYN is not a new connection.
        let again = run(handshake(100, 900) + [Seg(fromClient: true, seq: 100, flags: [.syn])] + [.c(101, "x")])
        #expect(again.opened.count == 1)
    }

    @Test func keepAlivesAreIgnored() {
        let rec = run(handshake(100, 900) + [.c(101, "AB"), .c(102, "B"), .c(103, "C")])
        #expect(rec.client() == "ABC")
        #expect(rec.opened.first.map { $0.stats[0].keepAlives } == 1)
        #expect(rec.opened.first.map { $0.stats[0].retransmissions } == 0)
    }

    @Test func snaplenCutBytesAreAGap() {
        var s = Seg.c(101, "ABCD")
        s.wireLength = 10
        let rec = run(handshake(100, 900) + [s, .c(111, "K")])
        #expect(rec.client() == "ABCD??????K")
    }

    @Test func heldBytesLimitDeclaresTheHoleAGap() {
        var limits = ReassemblyLimits()
        limits.maxHeldBytesPerDirection = 8
        let rec = run(handshake(100, 900) + [.c(101, "A"), .c(110, "JKLMN"), .c(120, "TUVWX")], limits: limits, finish: false)
        #expect(rec.gaps.count >= 1)
        #expect(rec.opened.first?.anomalies.map(\.name).contains(.tcpHeldBytesLimit) == true)
        #expect(rec.client().hasPrefix("A????????JKLMN"))
    }

    @Test func idleTimeoutClosesConnections() {
        var limits = ReassemblyLimits()
        limits.idleTimeout = 5
        let rec = Recorder()
        let r = TCPReassembler(limits: limits)
        let payload = Array("EHLO x\r\n".utf8)
        payload.withUnsafeBytes { p in
            let seg = TCPSegment(source: clientEP, destination: serverEP, seq: 1, ack: 0, flags: [.ack], window: 1, options: TCPOptions(),
                                 ip: IPInfo(version: 4, ttl: 1, ipID: nil, reassembled: false), payload: p, wireLength: p.count)
            r.process(seg, time: Timestamp(seconds: 0, nanoseconds: 0), vantage: Vantage(file: 0))
            rec.take(r)
        }
        r.expireIdle(Timestamp(seconds: 10, nanoseconds: 0))
        rec.take(r)
        #expect(rec.closes.map(\.1) == [.idle])
    }

    @Test func connectionTableLimitClosesTheOldestWithAReason() {
        var limits = ReassemblyLimits()
        limits.maxConnections = 16
        let rec = Recorder()
        let r = TCPReassembler(limits: limits)
        for i in 0..<100 {
            [UInt8]().withUnsafeBytes { p in
                let seg = TCPSegment(source: Endpoint(.v4(0x0a00_0001), UInt16(10000 + i)), destination: serverEP, seq: 1, ack: 0, flags: [.syn], window: 1,
                                     options: TCPOptions(), ip: IPInfo(version: 4, ttl: 1, ipID: nil, reassembled: false), payload: p, wireLength: 0)
                r.process(seg, time: Timestamp(nanoseconds: Int64(i)), vantage: Vantage(file: 0))
                rec.take(r)
            }
        }
        #expect(rec.opened.count == 100)
        #expect(rec.closes.allSatisfy { $0.1 == .tableFull })
        #expect(rec.closes.count >= 84)
        r.finishAll(at: Timestamp(nanoseconds: 1000))
        rec.take(r)
        #expect(rec.closes.count == 100, "every connection is closed with a reason, none silently dropped")
    }

    @Test func sameAddressesOnTwoVantagePointsAreTwoConnections() {
        let rec = Recorder()
        let r = TCPReassembler()
        for v in 0..<2 {
            Array("220 x\r\n".utf8).withUnsafeBytes { p in
                let seg = TCPSegment(source: serverEP, destination: clientEP, seq: UInt32(v * 1000), ack: 0, flags: [.ack], window: 1, options: TCPOptions(),
                                     ip: IPInfo(version: 4, ttl: 1, ipID: nil, reassembled: false), payload: p, wireLength: p.count)
                r.process(seg, time: .zero, vantage: Vantage(file: 0, interface: v))
                rec.take(r)
            }
        }
        #expect(rec.opened.count == 2)
    }

    /// Property: any permutation, duplication or re-splitting of a stream's segments (without
    /// loss) reassembles to the original bytes.
    @Test(arguments: 1...200 as ClosedRange<UInt64>)
    func permutedDuplicatedResplitStreamReassembles(seed: UInt64) {
        var rng = SplitMix(seed: seed)
        let length = Int.random(in: 1...3000, using: &rng)
        let original = (0..<length).map { _ in UInt8.random(in: 32...126, using: &rng) }
        let isn = UInt32.random(in: 0...UInt32.max, using: &rng)  // exercises wrap-around too
        // Cut into segments, then add re-split copies of random ranges.
        var segs: [Seg] = []
        var i = 0
        while i < length {
            let n = min(Int.random(in: 1...400, using: &rng), length - i)
            segs.append(.c(isn &+ 1 &+ UInt32(i), String(decoding: original[i..<(i + n)], as: UTF8.self)))
            i += n
        }
        for _ in 0..<Int.random(in: 0...10, using: &rng) {
            let a = Int.random(in: 0..<length, using: &rng)
            let b = min(length, a + Int.random(in: 1...500, using: &rng))
            segs.append(.c(isn &+ 1 &+ UInt32(a), String(decoding: original[a..<b], as: UTF8.self)))
        }
        segs.shuffle(using: &rng)
        let rec = run(handshake(isn, 1) + segs)
        #expect(rec.streams[1]?[0] == original, "seed \(seed)")
        #expect(rec.gaps.isEmpty, "seed \(seed)")
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
