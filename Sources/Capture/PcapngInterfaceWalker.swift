#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libpcap does not say which pcapng interface a packet came from, yet two legs of a transparent
/// proxy captured on two interfaces can carry identical addresses and ports. This walker reads the
/// block headers of a pcapng file in step with libpcap and reports each packet's interface index.
///
/// It switches itself off (returns 0 for every packet, at no cost) for classic pcap files and for
/// pcapng files that declare a single interface before their first packet.
final class PcapngInterfaceWalker {
    private var fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0
    private var bigEndian = false
    private var interfacesInSection = 0
    /// Interfaces seen in earlier sections: pcapng numbers interfaces per section.
    private var sectionBase = 0
    private var active = true

    init?(path: String) {
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        // Only pcapng files that declare more than one interface before their first packet need it.
        guard let magic = peek(4), magic == [0x0a, 0x0d, 0x0d, 0x0a], probeInterfaces() == true else {
            active = false
            close(fd)
            return nil
        }
    }

    deinit { if active { close(fd) } }

    /// The interface index of the next packet block (0-based across sections), or 0 when unknown.
    func nextPacketInterface() -> Int {
        guard active else { return 0 }
        var result = 0
        while let block = readBlockHeader() {
            if let iface = block.interface {
                result = iface
                return result
            }
        }
        active = false
        close(fd)
        return result
    }

    private struct Block { var interface: Int? }

    /// Walks leading blocks; returns true when more than one interface is declared before the first
    /// packet (the walker then stays active, positioned at that packet block).
    private func probeInterfaces() -> Bool? {
        while let type = peekBlockType() {
            if type == 6 || type == 3 || type == 2 { return interfacesInSection > 1 }
            guard readBlockHeader() != nil else { return nil }
        }
        return nil
    }

    private func peekBlockType() -> UInt32? {
        guard let b = peek(4) else { return nil }
        if b == [0x0a, 0x0d, 0x0d, 0x0a] { return 0x0a0d0d0a }
        return u32(b, 0)
    }

    /// Consumes one block; for packet blocks returns its interface index.
    private func readBlockHeader() -> Block? {
        guard let head = peek(12) else { return nil }
        var type = u32(head, 0)
        if head[0] == 0x0a, head[1] == 0x0d, head[2] == 0x0d, head[3] == 0x0a {
            // Section header: the byte-order magic decides the endianness of this section.
            bigEndian = head[8] == 0x1a
            type = 0x0a0d0d0a
            sectionBase += interfacesInSection
            interfacesInSection = 0
        }
        let length = Int(u32(head, 4))
        guard length >= 12, length % 4 == 0 else { return nil }
        var block = Block()
        switch type {
        case 1: interfacesInSection += 1
        case 6: block.interface = sectionBase + Int(u32(head, 8))
        case 2: block.interface = sectionBase + Int(bigEndian ? UInt16(head[8]) << 8 | UInt16(head[9]) : UInt16(head[9]) << 8 | UInt16(head[8]))
        case 3: block.interface = sectionBase
        default: break
        }
        guard skip(length) else { return nil }
        return block
    }

    private func u32(_ b: [UInt8], _ i: Int) -> UInt32 {
        let v = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
        return bigEndian ? v.byteSwapped : v
    }

    private func fill(_ want: Int) -> Bool {
        if end - start >= want { return true }
        if start > 0 {
            buffer.withUnsafeMutableBytes { p in
                if end > start { memmove(p.baseAddress!, p.baseAddress! + start, end - start) }
            }
            end -= start
            start = 0
        }
        if buffer.count < want { buffer += [UInt8](repeating: 0, count: want - buffer.count) }
        while end - start < want {
            let n = buffer.withUnsafeMutableBytes { p in read(fd, p.baseAddress! + end, p.count - end) }
            if n <= 0 { return false }
            end += n
        }
        return true
    }

    private func peek(_ n: Int) -> [UInt8]? {
        guard fill(n) else { return nil }
        return Array(buffer[start..<(start + n)])
    }

    private func skip(_ n: Int) -> Bool {
        var left = n
        while left > 0 {
            if start == end, !fill(1) { return false }
            let take = min(left, end - start)
            start += take
            left -= take
        }
        return true
    }
}
