import Testing
@testable import Packets
import Vocabulary

/// Large-send-offload super-frames: TCP sends larger than the MSS captured on the sending host
/// before the network card cut them, with an IPv4 Total Length of 0 (Windows, Npcap) or one that
/// does not cover the frame.
@Suite struct OffloadTests {
    /// An IPv4 frame whose Total Length field is replaced by `totalLength`.
    static func frame(payload: Int, totalLength: UInt16, trailer: [UInt8] = []) -> [UInt8] {
        var ip = Frame.ipv4(Frame.tcp(payload: [UInt8]((0..<payload).map { UInt8(truncatingIfNeeded: $0) })))
        ip[2] = UInt8(totalLength >> 8)
        ip[3] = UInt8(totalLength & 0xff)
        return Frame.ethernet(ip + trailer)
    }

    /// What a decoder made of one frame: the segment's payload, wire length and offload flag.
    static func run(_ bytes: [UInt8], wireLength: Int? = nil, decoder: inout PacketDecoder) -> (PacketOutcome, [UInt8], Int, Bool)? {
        var got: ([UInt8], Int, Bool)?
        let outcome = bytes.withUnsafeBytes { p in
            decoder.decode(p, wireLength: wireLength ?? p.count, time: .zero) { s in got = (Array(s.payload), s.wireLength, s.ip.offload) }
        }
        return got.map { (outcome, $0.0, $0.1, $0.2) }
    }

    @Test func totalLengthZeroTakesTheFramesLength() throws {
        var d = PacketDecoder(linkType: .ethernet)
        let (outcome, payload, wire, offload) = try #require(Self.run(Self.frame(payload: 10_136, totalLength: 0), decoder: &d))
        #expect(outcome == .tcp)
        #expect(payload.count == 10_136)
        #expect(payload.last == UInt8(truncatingIfNeeded: 10_135))
        #expect(wire == 10_136)
        #expect(offload)
        #expect(d.stats.offloadFrames == 1)
        #expect(d.stats.malformed == 0)
    }

    /// A super-frame cut by the snapshot length: the length on the wire is the frame's, so the
    /// missing part is a gap of the right size.
    @Test func totalLengthZeroCutBySnaplenKeepsTheWireLength() throws {
        var d = PacketDecoder(linkType: .ethernet)
        let whole = Self.frame(payload: 5000, totalLength: 0)
        let (_, payload, wire, offload) = try #require(Self.run(Array(whole[..<1514]), wireLength: whole.count, decoder: &d))
        #expect(payload.count == 1514 - 54)
        #expect(wire == 5000)
        #expect(offload)
    }

    /// Total Length shorter than a frame no standard Ethernet frame could be, by more than any
    /// trailer: the frame's length wins.
    @Test func totalLengthShortOfALongFrameTakesTheFramesLength() throws {
        var d = PacketDecoder(linkType: .ethernet)
        let (_, payload, wire, offload) = try #require(Self.run(Self.frame(payload: 2896, totalLength: 1500), decoder: &d))
        #expect(payload.count == 2896)
        #expect(wire == 2896)
        #expect(offload)
        #expect(d.stats.offloadFrames == 1)
    }

    /// Ordinary bytes after the IP packet stay ignored: Ethernet padding of a short frame, an FCS
    /// on a full-size or jumbo frame, a vendor trailer on a short frame.
    @Test(arguments: [
        (0, 6, "padded to 60 bytes"),
        (1460, 4, "full-size frame with its FCS"),
        (8960, 4, "jumbo frame with its FCS"),
        (8960, 64, "jumbo frame with a 64-byte trailer"),
        (100, 140, "short frame with a long trailer"),
        (1460 - 65, 65, "frame of standard size with a 65-byte trailer"),
    ] as [(Int, Int, String)])
    func paddingAndTrailersStayIgnored(payload: Int, extra: Int, what: String) throws {
        var d = PacketDecoder(linkType: .ethernet)
        let f = Self.frame(payload: payload, totalLength: UInt16(40 + payload), trailer: [UInt8](repeating: 0xee, count: extra))
        let (_, got, wire, offload) = try #require(Self.run(f, decoder: &d), "\(what)")
        #expect(got.count == payload, "\(what)")
        #expect(wire == payload, "\(what)")
        #expect(!offload, "\(what)")
        #expect(d.stats.offloadFrames == 0, "\(what)")
    }

    /// The rule's two edges: the IP part longer than 1500 bytes, and more than 64 bytes beyond
    /// Total Length.
    @Test func ruleEdges() {
        #expect(PacketDecoder.offloadLength(declared: 0, headerLength: 20, onWire: 40) == 40)
        #expect(PacketDecoder.offloadLength(declared: 0, headerLength: 20, onWire: 10) == nil)
        #expect(PacketDecoder.offloadLength(declared: 1400, headerLength: 20, onWire: 1500) == nil)  // a standard frame
        #expect(PacketDecoder.offloadLength(declared: 1437, headerLength: 20, onWire: 1501) == nil)  // 64 beyond: a trailer
        #expect(PacketDecoder.offloadLength(declared: 1436, headerLength: 20, onWire: 1501) == 1501)  // 65 beyond, and too long
        #expect(PacketDecoder.offloadLength(declared: 1500, headerLength: 20, onWire: 1500) == nil)
        #expect(PacketDecoder.offloadLength(declared: 10, headerLength: 20, onWire: 3000) == nil)  // below its own header: malformed
    }

    /// A fragment with Total Length 0 is malformed, not a super-frame (offload never fragments).
    @Test func fragmentWithTotalLengthZeroIsMalformed() {
        var ip = Frame.ipv4(Frame.tcp(payload: [UInt8](repeating: 1, count: 3000)), fragment: 0x2000)
        ip[2] = 0
        ip[3] = 0
        var d = PacketDecoder(linkType: .raw)
        let outcome = ip.withUnsafeBytes { d.decode($0, wireLength: $0.count, time: .zero) { _ in } }
        #expect(outcome == .malformed("IPv4 total length below header length"))
        #expect(d.stats.offloadFrames == 0)
    }
}
