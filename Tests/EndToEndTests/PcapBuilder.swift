import Foundation

/// Writes classic pcap (Ethernet, IPv4, TCP) from scripted conversations, for tests that need
/// captures too large or too hostile to commit. Checksums are left zero (smtpscope does not check
/// them, as captures taken on the sender often carry wrong ones).
struct PcapBuilder {
    private(set) var data: [UInt8] = []
    var time: Double = 1_700_000_000

    init() {
        data += le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(262_144) + le32(1)
    }

    /// Forgets what was written (the file header too): the next bytes continue a stream.
    mutating func reset() { data.removeAll(keepingCapacity: true) }

    /// One frame. `totalLength` replaces the IPv4 Total Length (0 for a Windows large-send-offload
    /// super-frame); `trailer` is written after the IP packet (Ethernet padding or an FCS).
    mutating func frame(src: (UInt32, UInt16), dst: (UInt32, UInt16), seq: UInt32, ack: UInt32, flags: UInt8, payload: ArraySlice<UInt8> = [], totalLength: UInt16? = nil, trailer: [UInt8] = []) {
        var f: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        let total = totalLength ?? UInt16(truncatingIfNeeded: 20 + 20 + payload.count)
        f += [0x45, 0] + be16(total) + [0, 0, 0x40, 0, 64, 6, 0, 0] + be32(src.0) + be32(dst.0)
        f += be16(src.1) + be16(dst.1) + be32(seq) + be32(ack) + [0x50, flags] + be16(65535) + [0, 0, 0, 0]
        f += payload
        f += trailer
        time += 0.0001
        let secs = UInt32(time), usec = UInt32((time - Double(secs)) * 1e6)
        data += le32(secs) + le32(usec) + le32(UInt32(f.count)) + le32(UInt32(f.count)) + f
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    func be32(_ v: UInt32) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
}

/// One TCP connection being scripted: handshake, data each way in MSS-sized segments, FIN.
struct ScriptedConnection {
    let client: (UInt32, UInt16)
    let server: (UInt32, UInt16)
    var cseq: UInt32 = 1000
    var sseq: UInt32 = 5000

    init(clientPort: UInt16, serverPort: UInt16 = 25) {
        client = (0xc000_020a, clientPort)
        server = (0xc633_6419, serverPort)
    }

    mutating func open(_ b: inout PcapBuilder) {
        b.frame(src: client, dst: server, seq: cseq, ack: 0, flags: 0x02)
        b.frame(src: server, dst: client, seq: sseq, ack: cseq + 1, flags: 0x12)
        cseq += 1
        sseq += 1
        b.frame(src: client, dst: server, seq: cseq, ack: sseq, flags: 0x10)
    }

    mutating func client(_ b: inout PcapBuilder, _ bytes: [UInt8]) {
        var i = 0
        while i < bytes.count {
            let n = min(1460, bytes.count - i)
            b.frame(src: client, dst: server, seq: cseq, ack: sseq, flags: 0x18, payload: bytes[i..<(i + n)])
            cseq &+= UInt32(n)
            i += n
        }
    }

    /// The client sends `bytes` as one large-send-offload super-frame (IPv4 Total Length 0).
    mutating func clientSuperFrame(_ b: inout PcapBuilder, _ bytes: [UInt8]) {
        b.frame(src: client, dst: server, seq: cseq, ack: sseq, flags: 0x18, payload: bytes[...], totalLength: 0)
        cseq &+= UInt32(bytes.count)
    }

    /// The server acknowledges what the client sent, in a frame padded to the Ethernet minimum
    /// with non-zero bytes (as some drivers pad).
    mutating func serverPaddedAck(_ b: inout PcapBuilder) {
        b.frame(src: server, dst: client, seq: sseq, ack: cseq, flags: 0x10, trailer: [UInt8](repeating: 0xa5, count: 6))
    }

    mutating func server(_ b: inout PcapBuilder, _ bytes: [UInt8]) {
        b.frame(src: server, dst: client, seq: sseq, ack: cseq, flags: 0x18, payload: bytes[...])
        sseq &+= UInt32(bytes.count)
    }

    mutating func close(_ b: inout PcapBuilder) {
        b.frame(src: client, dst: server, seq: cseq, ack: sseq, flags: 0x11)
        b.frame(src: server, dst: client, seq: sseq, ack: cseq + 1, flags: 0x11)
        b.frame(src: client, dst: server, seq: cseq + 1, ack: sseq + 1, flags: 0x10)
    }
}
