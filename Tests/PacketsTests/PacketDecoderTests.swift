import Testing
@testable import Packets
import Vocabulary

/// Builds frames byte by byte, so each header field is visible in the test.
enum Frame {
    static let mac: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]

    static func tcp(sport: UInt16 = 51234, dport: UInt16 = 25, seq: UInt32 = 1000, ack: UInt32 = 0, flags: UInt8 = 0x18, options: [UInt8] = [], payload: [UInt8] = []) -> [UInt8] {
        let offset = UInt8((20 + options.count) / 4) << 4
        return be16(sport) + be16(dport) + be32(seq) + be32(ack) + [offset, flags] + be16(65535) + [0, 0, 0, 0] + options + payload
    }

    static func ipv4(_ l4: [UInt8], proto: UInt8 = 6, id: UInt16 = 0x1234, ttl: UInt8 = 64, options: [UInt8] = [], fragment: UInt16 = 0) -> [UInt8] {
        let ihl = UInt8(5 + options.count / 4)
        let total = UInt16(Int(ihl) * 4 + l4.count)
        return [0x40 | ihl, 0] + be16(total) + be16(id) + be16(fragment) + [ttl, proto, 0, 0] + [192, 0, 2, 10] + [198, 51, 100, 25] + options + l4
    }

    static func ipv6(_ l4: [UInt8], next: UInt8 = 6, ext: [UInt8] = [], hopLimit: UInt8 = 61) -> [UInt8] {
        let src: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x10]
        let dst: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x25]
        return [0x60, 0, 0, 0] + be16(UInt16(ext.count + l4.count)) + [next, hopLimit] + src + dst + ext + l4
    }

    static func ethernet(_ ip: [UInt8], type: UInt16 = 0x0800, tags: [UInt16] = []) -> [UInt8] {
        var out = mac
        for t in tags { out += be16(t) + be16(100) }
        return out + be16(type) + ip
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
}

struct Decoded {
    var outcome: PacketOutcome
    var segment: (src: String, dst: String, seq: UInt32, flags: TCPFlags, payload: [UInt8], wire: Int, ttl: UInt8, ipID: UInt16?, options: TCPOptions)?
}

func decode(_ linkType: LinkType, _ bytes: [UInt8], wireLength: Int? = nil, decoder: inout PacketDecoder) -> Decoded {
    var result: Decoded = Decoded(outcome: .notIP, segment: nil)
    bytes.withUnsafeBytes { p in
        result.outcome = decoder.decode(p, wireLength: wireLength ?? p.count, time: .zero) { s in
            result.segment = (s.source.description, s.destination.description, s.seq, s.flags, Array(s.payload), s.wireLength, s.ip.ttl, s.ip.ipID, s.options)
        }
    }
    return result
}

func decode(_ linkType: LinkType, _ bytes: [UInt8], wireLength: Int? = nil) -> Decoded {
    var d = PacketDecoder(linkType: linkType)
    return decode(linkType, bytes, wireLength: wireLength, decoder: &d)
}

@Suite struct PacketDecoderTests {
    let payload = Array("EHLO x\r\n".utf8)

    @Test func ethernetIPv4TCP() throws {
        let d = decode(.ethernet, Frame.ethernet(Frame.ipv4(Frame.tcp(payload: payload))))
        #expect(d.outcome == .tcp)
        let s = try #require(d.segment)
        #expect(s.src == "192.0.2.10:51234")
        #expect(s.dst == "198.51.100.25:25")
        #expect(s.payload == payload)
        #expect(s.ttl == 64)
        #expect(s.ipID == 0x1234)
    }

    @Test func ethernetPaddingIsIgnored() throws {
        // A short frame padded to 60 bytes: the IP total length decides the payload.
        let frame = Frame.ethernet(Frame.ipv4(Frame.tcp()))
        let padded = frame + [UInt8](repeating: 0, count: 60 - frame.count)
        let s = try #require(decode(.ethernet, padded).segment)
        #expect(s.payload.isEmpty)
        #expect(s.wire == 0)
    }

    @Test(arguments: [[0x8100], [0x88a8, 0x8100], [0x9100, 0x8100]] as [[UInt16]])
    func vlanTags(tags: [UInt16]) {
        #expect(decode(.ethernet, Frame.ethernet(Frame.ipv4(Frame.tcp(payload: payload)), tags: tags)).segment?.payload == payload)
    }

    @Test func linuxCookedV1AndV2() {
        let ip = Frame.ipv4(Frame.tcp(payload: payload))
        let sll: [UInt8] = [0, 0, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + [0x08, 0x00] + ip
        let sll2: [UInt8] = [0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6] + [UInt8](repeating: 0, count: 8) + ip
        #expect(decode(.linuxSLL, sll).segment?.payload == payload)
        #expect(decode(.linuxSLL2, sll2).segment?.payload == payload)
    }

    @Test func bsdLoopbackBothByteOrders() {
        let v4 = Frame.ipv4(Frame.tcp(payload: payload)), v6 = Frame.ipv6(Frame.tcp(payload: payload))
        #expect(decode(.null, [2, 0, 0, 0] + v4).segment?.payload == payload)  // little-endian writer
        #expect(decode(.null, [0, 0, 0, 2] + v4).segment?.payload == payload)  // big-endian writer
        #expect(decode(.null, [30, 0, 0, 0] + v6).segment?.payload == payload)  // Darwin AF_INET6
        #expect(decode(.loop, [0, 0, 0, 24] + v6).segment?.payload == payload)
        #expect(decode(.null, [99, 0, 0, 0] + v4).outcome == .notIP)
    }

    @Test func rawIP() {
        #expect(decode(.raw, Frame.ipv4(Frame.tcp(payload: payload))).segment?.payload == payload)
        #expect(decode(.raw, Frame.ipv6(Frame.tcp(payload: payload))).segment?.src == "[2001:db8::10]:51234")
    }

    @Test func ipv4OptionsAreSkipped() {
        let options: [UInt8] = [1, 1, 1, 0]  // NOP NOP NOP EOL
        #expect(decode(.raw, Frame.ipv4(Frame.tcp(payload: payload), options: options)).segment?.payload == payload)
    }

    @Test func ipv6ExtensionHeadersAreWalked() throws {
        // Hop-by-hop (8 bytes, PadN) then destination options (8 bytes) then TCP.
        let hop: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0]
        let dest: [UInt8] = [6, 0, 1, 4, 0, 0, 0, 0]
        let s = try #require(decode(.raw, Frame.ipv6(Frame.tcp(payload: payload), next: 0, ext: hop + dest)).segment)
        #expect(s.payload == payload)
        #expect(s.ttl == 61)
        #expect(s.ipID == nil)
    }

    @Test func tcpOptions() throws {
        let options: [UInt8] = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]
        let s = try #require(decode(.raw, Frame.ipv4(Frame.tcp(flags: 0x02, options: options))).segment)
        #expect(s.options.mss == 1460)
        #expect(s.options.windowScale == 7)
        #expect(s.options.sackPermitted)
        #expect(s.options.timestampValue == 1)
        #expect(s.options.timestampEcho == 2)
        #expect(s.flags == [.syn])
    }

    @Test func ipv4FragmentsInAnyOrder() throws {
        let tcp = Frame.tcp(payload: Array(repeating: UInt8(ascii: "x"), count: 40))  // 60 bytes
        let parts: [(Int, [UInt8], Bool)] = [(0, Array(tcp[0..<24]), true), (24, Array(tcp[24..<48]), true), (48, Array(tcp[48...]), false)]
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
            var decoder = PacketDecoder(linkType: .raw)
            var results: [Decoded] = []
            for i in order {
                let (off, bytes, more) = parts[i]
                let field = UInt16(off / 8) | (more ? 0x2000 : 0)
                results.append(decode(.raw, Frame.ipv4(bytes, fragment: field), decoder: &decoder))
            }
            #expect(results.map(\.outcome) == [.fragmentHeld, .fragmentHeld, .tcp], "order \(order)")
            #expect(results.last?.segment?.payload.count == 40)
            #expect(decoder.fragments.incompleteCount == 0)
        }
    }

    @Test func fragmentTableIsBounded() {
        var limits = FragmentReassembler.Limits()
        limits.maxDatagrams = 10
        var decoder = PacketDecoder(linkType: .raw, fragmentLimits: limits)
        for id in 0..<100 {
            _ = decode(.raw, Frame.ipv4(Array(repeating: 0, count: 16), id: UInt16(id), fragment: 0x2000), decoder: &decoder)
        }
        #expect(decoder.fragments.incompleteCount <= 10)
        #expect(decoder.fragments.dropped >= 90)
    }

    @Test func snaplenCutPayloadKeepsTheWireLength() throws {
        let full = Frame.ethernet(Frame.ipv4(Frame.tcp(payload: Array(repeating: 65, count: 100))))
        let d = decode(.ethernet, Array(full[..<64]), wireLength: full.count)
        let s = try #require(d.segment)
        #expect(s.payload.count == 64 - 14 - 20 - 20)
        #expect(s.wire == 100)
    }

    /// Every prefix of a valid frame decodes without trapping: truncated and malformed headers
    /// are outcomes, not crashes.
    @Test func everyTruncationIsSafe() {
        // (link type, frame, TCP option bytes in the frame)
        let frames: [(LinkType, [UInt8], Int)] = [
            (.ethernet, Frame.ethernet(Frame.ipv4(Frame.tcp(options: [2, 4, 5, 180], payload: payload), options: [1, 1, 1, 0]), tags: [0x8100]), 4),
            (.ethernet, Frame.ethernet(Frame.ipv6(Frame.tcp(payload: payload), next: 0, ext: [6, 0, 1, 4, 0, 0, 0, 0]), type: 0x86dd), 0),
            (.linuxSLL2, [0x08, 0x00] + [UInt8](repeating: 0, count: 18) + Frame.ipv4(Frame.tcp(payload: payload)), 0),
        ]
        for (lt, frame, optionBytes) in frames {
            let headersEnd = frame.count - payload.count
            let baseEnd = headersEnd - optionBytes
            for n in 0...frame.count {
                // Cut by a snapshot length of n: the wire length stays the frame's.
                let d = decode(lt, Array(frame[..<n]), wireLength: frame.count)
                if n < baseEnd {
                    #expect(d.outcome != .tcp, "\(lt) cut at \(n)")
                } else if n < headersEnd {
                    // The fixed TCP header is there, its options are cut: decoded, no payload.
                    #expect(d.outcome == .tcp, "\(lt) cut at \(n)")
                    #expect(d.segment?.payload.isEmpty == true)
                } else {
                    #expect(d.outcome == .tcp, "\(lt) cut at \(n)")
                    #expect(d.segment?.payload.count == n - headersEnd)
                    #expect(d.segment?.wire == payload.count)
                }
            }
        }
    }

    @Test(arguments: [
        ([0x45, 0, 0, 10] + [UInt8](repeating: 0, count: 16), "IPv4 total length below header length"),
        ([0x46, 0, 0, 40] + [UInt8](repeating: 0, count: 16), "IPv4 header cut short"),
        (Frame.ipv4([0, 25, 0, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0x60, 0x18, 0, 0, 0, 0, 0, 0]), "TCP options cut short"),
        (Frame.ipv4([0, 25, 0, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x18, 0, 0, 0, 0, 0, 0]), "TCP data offset below 20"),
    ] as [([UInt8], String)])
    func malformedHeaders(bytes: [UInt8], reason: String) {
        #expect(decode(.raw, bytes).outcome == .malformed(reason))
    }

    @Test func nonTCPAndNonIP() {
        #expect(decode(.raw, Frame.ipv4([0, 0, 0, 0, 0, 0, 0, 0], proto: 17)).outcome == .notTCP)
        #expect(decode(.ethernet, Frame.ethernet([1, 2, 3], type: 0x0806)).outcome == .notIP)
    }

    @Test func addressText() {
        #expect(IPAddress.v6(0x2001_0db8_0000_0000, 0x0000_0000_0000_0001).description == "2001:db8::1")
        #expect(IPAddress.v6(0, 1).description == "::1")
        #expect(IPAddress.v6(0x2001_0db8_0001_0000, 0x0000_0001_0000_0001).description == "2001:db8:1::1:0:1")
        #expect(IPAddress.v6(0, 0x0000_ffff_c000_0201).description == "::ffff:192.0.2.1")
        #expect(Endpoint(.v6(0, 1), 25).description == "[::1]:25")
    }

    @Test func timestampFormatting() {
        #expect(Timestamp(seconds: 1_772_442_847, nanoseconds: 120_000_999).rfc3339 == "2026-03-02T09:14:07.120000Z")
        #expect(Timestamp(seconds: 951_782_400, nanoseconds: 0).rfc3339 == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp(seconds: -1, nanoseconds: 0).rfc3339 == "1969-12-31T23:59:59.000000Z")
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [0, 951_782_400_123_456_789, 1_772_442_847_120_000_999, -1_000_000_000, 253_402_300_799_999_999] as [Int64])
    func bytesEqualTheString(ns: Int64) {
        var out: [UInt8] = []
        Timestamp(nanoseconds: ns).appendRFC3339(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == Timestamp(nanoseconds: ns).rfc3339)
        #expect(out.count == 27)
    }
}
