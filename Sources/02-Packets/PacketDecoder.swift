import Vocabulary

/// Decodes captured frames down to TCP: link layer, VLAN tags, IPv4 (options, fragments), IPv6
/// (extension headers, fragments) and TCP (options). Pure: bytes in, segments out.
///
/// Only state: the IP fragment reassembler.
public struct PacketDecoder {
    public let linkType: LinkType
    public private(set) var stats = PacketStats()
    public var fragments: FragmentReassembler

    public init(linkType: LinkType, fragmentLimits: FragmentReassembler.Limits = .init()) {
        self.linkType = linkType
        self.fragments = FragmentReassembler(limits: fragmentLimits)
    }

    /// Decodes one frame. `wireLength` is the frame's length on the wire (pcap `len`); `bytes` the
    /// captured part (`caplen`). Calls `body` for a TCP segment, synchronously.
    @discardableResult
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer, wireLength: Int, time: Timestamp,
        _ body: (TCPSegment) -> Void
    ) -> PacketOutcome {
        stats.packets += 1
        if bytes.count < wireLength { stats.truncated += 1 }
        let outcome = decodeLink(bytes, wireLength: max(wireLength, bytes.count), time: time, body)
        switch outcome {
        case .tcp: stats.tcp += 1
        case .fragmentHeld: break
        case .notIP: stats.notIP += 1
        case .notTCP: stats.notTCP += 1
        case .malformed: stats.malformed += 1
        }
        return outcome
    }

    private mutating func decodeLink(
        _ bytes: UnsafeRawBufferPointer, wireLength: Int, time: Timestamp, _ body: (TCPSegment) -> Void
    ) -> PacketOutcome {
        var r = ByteReader(bytes)
        let etherType: UInt16
        switch linkType {
        case .ethernet:
            guard r.skip(12), var type = r.readUInt16() else { return .malformed("ethernet header cut short") }
            // 802.1Q (0x8100), 802.1ad (0x88a8) and the old QinQ 0x9100: each tag is TCI + next type.
            var tags = 0
            while type == 0x8100 || type == 0x88a8 || type == 0x9100 {
                tags += 1
                guard tags <= 8, r.skip(2), let next = r.readUInt16() else { return .malformed("VLAN tag cut short") }
                type = next
            }
            etherType = type
        case .linuxSLL:
            guard r.skip(14), let type = r.readUInt16() else { return .malformed("LINUX_SLL header cut short") }
            etherType = type
        case .linuxSLL2:
            guard let type = r.readUInt16(), r.skip(18) else { return .malformed("LINUX_SLL2 header cut short") }
            etherType = type
        case .null, .loop:
            guard let raw = r.readUInt32() else { return .malformed("loopback header cut short") }
            // NULL stores the family in the writer's byte order; a value above 0xffff is byte-swapped.
            let family = linkType == .loop ? raw : (raw > 0xffff ? raw.byteSwapped : raw)
            switch family {
            case 2: etherType = 0x0800
            case 24, 28, 30: etherType = 0x86dd  // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
            default:
                let swapped = raw.byteSwapped
                if swapped == 2 { etherType = 0x0800 } else if [24, 28, 30].contains(swapped) { etherType = 0x86dd } else { return .notIP }
            }
        case .raw:
            guard let first = r.peek() else { return .malformed("empty raw IP packet") }
            switch first >> 4 {
            case 4: etherType = 0x0800
            case 6: etherType = 0x86dd
            default: return .notIP
            }
        }
        let rest = r.readRest()
        switch etherType {
        case 0x0800: return decodeIPv4(rest, wireLength: wireLength - (bytes.count - rest.count), time: time, body)
        case 0x86dd: return decodeIPv6(rest, time: time, body)
        default: return .notIP
        }
    }

    /// RFC 791 §3.1. Options (IHL > 5) are skipped; Ethernet padding beyond Total Length is ignored.
    /// `wireLength` is the length on the wire of the bytes from the IP header on (the frame's
    /// length less the link header). A large-send-offload super-frame's length is taken from the
    /// frame (see `offloadLength`).
    private mutating func decodeIPv4(
        _ bytes: UnsafeRawBufferPointer, wireLength: Int, time: Timestamp, _ body: (TCPSegment) -> Void
    ) -> PacketOutcome {
        var r = ByteReader(bytes)
        guard let vihl = r.readUInt8(), vihl >> 4 == 4 else { return .malformed("not an IPv4 header") }
        let headerLength = Int(vihl & 0x0f) * 4
        guard headerLength >= 20, bytes.count >= headerLength,
            r.skip(1), let declaredLength = r.readUInt16(), let id = r.readUInt16(),
            let fragField = r.readUInt16(), let ttl = r.readUInt8(), let proto = r.readUInt8(),
            r.skip(2), let src = r.readUInt32(), let dst = r.readUInt32()
        else { return .malformed("IPv4 header cut short") }
        let moreFragments = fragField & 0x2000 != 0
        let fragOffset = Int(fragField & 0x1fff) * 8
        var totalLength = Int(declaredLength)
        var offload = false
        if proto == 6, !moreFragments, fragOffset == 0,
            let length = Self.offloadLength(declared: totalLength, headerLength: headerLength, onWire: wireLength)
        {
            totalLength = length
            offload = true
            stats.offloadFrames += 1
        }
        guard totalLength >= headerLength else { return .malformed("IPv4 total length below header length") }
        let available = min(totalLength, bytes.count) - headerLength
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerLength..<(headerLength + available)])
        let wirePayload = totalLength - headerLength
        let info = IPInfo(version: 4, ttl: ttl, ipID: id, reassembled: false, offload: offload)
        guard proto == 6 else {
            if moreFragments || fragOffset > 0 { stats.fragments += 1 }
            return .notTCP
        }
        if moreFragments || fragOffset > 0 {
            stats.fragments += 1
            guard available == wirePayload else { return .malformed("IPv4 fragment cut short") }
            let key = FragmentReassembler.Key(source: .v4(src), destination: .v4(dst), id: UInt32(id), proto: proto)
            guard let datagram = fragments.add(key, offset: fragOffset, more: moreFragments, payload: payload, time: time) else {
                return .fragmentHeld
            }
            stats.reassembledDatagrams += 1
            var whole = info
            whole.reassembled = true
            return datagram.withUnsafeBytes {
                decodeTCP($0, wireLength: $0.count, source: .v4(src), destination: .v4(dst), ip: whole, body)
            }
        }
        return decodeTCP(payload, wireLength: wirePayload, source: .v4(src), destination: .v4(dst), ip: info, body)
    }

    /// The IPv4 packet length to use instead of the header's Total Length when the frame is a
    /// large-send-offload (LSO/TSO) super-frame: a TCP send larger than the MSS, captured on the
    /// sending host before the network card cut it into segments. Nil for an ordinary packet.
    ///
    /// - Total Length 0 (Windows with Large Send Offload, Linux BIG TCP above 64 KiB): the length
    ///   is the frame's, as Wireshark takes it ("Bogus IP length (0, assuming TSO)").
    /// - Total Length shorter than the frame: bytes after the IP packet are ordinary in two forms
    ///   only, and both are short. Ethernet pads a frame to its 60-byte minimum (IEEE 802.3
    ///   §3.2.8), so padding exists only in frames of at most 60 bytes, and is at most 26 bytes
    ///   after an IPv4 header; a trailer (the 4-byte FCS some capture cards keep, or a switch's
    ///   or load balancer's timestamp / metadata trailer) is a few tens of bytes. The extra bytes
    ///   are taken as payload only when both facts rule those out: the IP part of the frame is
    ///   longer than the 1500 bytes a standard Ethernet frame carries (so it is no ordinary
    ///   frame and cannot be padded), and the extra exceeds `maxTrailer` (so a jumbo frame with
    ///   an FCS or trailer stays as it is).
    static func offloadLength(declared: Int, headerLength: Int, onWire: Int) -> Int? {
        if declared == 0 { return onWire >= headerLength ? onWire : nil }
        guard declared >= headerLength, onWire > standardMTU, onWire - declared > maxTrailer else { return nil }
        return onWire
    }

    /// The largest IP packet a standard (non-jumbo) Ethernet frame carries.
    static let standardMTU = 1500
    /// The most bytes after an IP packet still read as padding or a trailer (FCS 4 bytes; vendor
    /// timestamp / metadata trailers a few tens).
    static let maxTrailer = 64

    /// RFC 8200 §4: the extension-header chain is walked until TCP or an unknown header.
    private mutating func decodeIPv6(
        _ bytes: UnsafeRawBufferPointer, time: Timestamp, _ body: (TCPSegment) -> Void
    ) -> PacketOutcome {
        var r = ByteReader(bytes)
        guard let first = r.readUInt32(), first >> 28 == 6, let payloadLength = r.readUInt16(),
            var next = r.readUInt8(), let hopLimit = r.readUInt8(),
            let s1 = r.readUInt64(), let s2 = r.readUInt64(), let d1 = r.readUInt64(), let d2 = r.readUInt64()
        else { return .malformed("IPv6 header cut short") }
        let src = IPAddress.v6(s1, s2), dst = IPAddress.v6(d1, d2)
        let end = min(40 + Int(payloadLength), bytes.count)
        var wireEnd = 40 + Int(payloadLength)
        if payloadLength == 0 { wireEnd = bytes.count }  // jumbogram or unknown: take what we have
        var offset = 40
        var fragment: (offset: Int, more: Bool, id: UInt32)?
        var hops = 0
        while next != 6 {
            hops += 1
            guard hops <= 16 else { return .malformed("IPv6 extension header chain too long") }
            var ext = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[min(offset, end)..<end]))
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination options, mobility, HIP, shim6
                guard let nh = ext.readUInt8(), let len = ext.readUInt8() else { return .malformed("IPv6 extension header cut short") }
                next = nh
                offset += (Int(len) + 1) * 8
            case 51:  // AH: length in 4-octet units minus 2
                guard let nh = ext.readUInt8(), let len = ext.readUInt8() else { return .malformed("IPv6 AH header cut short") }
                next = nh
                offset += (Int(len) + 2) * 4
            case 44:  // fragment header, 8 octets
                guard let nh = ext.readUInt8(), ext.skip(1), let off = ext.readUInt16(), let id = ext.readUInt32() else {
                    return .malformed("IPv6 fragment header cut short")
                }
                next = nh
                offset += 8
                fragment = (Int(off & 0xfff8), off & 1 != 0, id)
            default:
                return .notTCP
            }
            guard offset <= end else { return .malformed("IPv6 extension header cut short") }
        }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
        let info = IPInfo(version: 6, ttl: hopLimit, ipID: nil, reassembled: false)
        if let frag = fragment, frag.more || frag.offset > 0 {
            stats.fragments += 1
            guard end == wireEnd else { return .malformed("IPv6 fragment cut short") }
            let key = FragmentReassembler.Key(source: src, destination: dst, id: frag.id, proto: 6)
            guard let datagram = fragments.add(key, offset: frag.offset, more: frag.more, payload: payload, time: time) else {
                return .fragmentHeld
            }
            stats.reassembledDatagrams += 1
            var whole = info
            whole.reassembled = true
            return datagram.withUnsafeBytes {
                decodeTCP($0, wireLength: $0.count, source: src, destination: dst, ip: whole, body)
            }
        }
        return decodeTCP(payload, wireLength: wireEnd - offset, source: src, destination: dst, ip: info, body)
    }

    /// RFC 9293 §3.1 header and §3.2 options.
    private func decodeTCP(
        _ bytes: UnsafeRawBufferPointer, wireLength: Int, source: IPAddress, destination: IPAddress,
        ip: IPInfo, _ body: (TCPSegment) -> Void
    ) -> PacketOutcome {
        var r = ByteReader(bytes)
        guard let sport = r.readUInt16(), let dport = r.readUInt16(), let seq = r.readUInt32(),
            let ack = r.readUInt32(), let offByte = r.readUInt8(), let flagByte = r.readUInt8(),
            let window = r.readUInt16(), r.skip(4)
        else { return .malformed("TCP header cut short") }
        let headerLength = Int(offByte >> 4) * 4
        guard headerLength >= 20 else { return .malformed("TCP data offset below 20") }
        // A header longer than the captured bytes is malformed, unless the snapshot length cut
        // the packet: then decode as far as the bytes go (options partly, no payload).
        let captured = min(headerLength, bytes.count)
        guard captured == headerLength || bytes.count < wireLength else { return .malformed("TCP options cut short") }
        var options = TCPOptions()
        if captured > 20 {
            Self.parseOptions(UnsafeRawBufferPointer(rebasing: bytes[20..<captured]), into: &options)
        }
        let segment = TCPSegment(
            source: Endpoint(source, sport), destination: Endpoint(destination, dport),
            seq: seq, ack: ack, flags: TCPFlags(rawValue: flagByte & 0x3f), window: window,
            options: options, ip: ip,
            payload: UnsafeRawBufferPointer(rebasing: bytes[captured...]),
            wireLength: max(wireLength - headerLength, 0))
        body(segment)
        return .tcp
    }

    static func parseOptions(_ bytes: UnsafeRawBufferPointer, into options: inout TCPOptions) {
        var r = ByteReader(bytes)
        while let kind = r.readUInt8() {
            switch kind {
            case 0: return
            case 1: continue
            default:
                guard let len = r.readUInt8(), len >= 2, let body = r.readSlice(Int(len) - 2) else { return }
                var b = ByteReader(body)
                switch (kind, len) {
                case (2, 4): options.mss = b.readUInt16()
                case (3, 3): options.windowScale = b.readUInt8()
                case (4, 2): options.sackPermitted = true
                case (8, 10):
                    options.timestampValue = b.readUInt32()
                    options.timestampEcho = b.readUInt32()
                default: break
                }
            }
        }
    }
}
