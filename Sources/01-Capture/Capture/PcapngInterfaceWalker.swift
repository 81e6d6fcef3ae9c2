/// libpcap does not say which pcapng interface a packet came from, yet two legs of a transparent
/// proxy captured on two interfaces can carry identical addresses and ports. This walker is fed the
/// same bytes as libpcap, as they are read (`CaptureInput`), follows the pcapng block structure and
/// queues the interface index of each packet block; libpcap returns one packet per packet block,
/// in the same order, so `nextPacketInterface()` pairs them.
///
/// It also keeps the contents of Decryption Secrets Blocks (pcapng type 0x0A, written by
/// `editcap --inject-secrets`): handed to `onSecrets` as soon as it is set, or as they are read.
///
/// It switches itself off (0 for every packet, at no cost) for classic pcap and at the first block
/// that makes no sense (libpcap then reports the damage).
final class PcapngInterfaceWalker {
    /// Interface indices of packet blocks seen and not yet taken; `taken` of them were taken.
    private var queue: [Int32] = []
    private var taken = 0
    /// The first 12 bytes of the block being read (type, length, and the byte-order magic of a
    /// section header or the interface of a packet block), when they arrive in pieces.
    private var header: (UInt64, UInt32) = (0, 0)
    private var held = 0
    /// Bytes of the current block still to pass by.
    private var skip = 0
    private var bigEndian = false
    private var started = false
    private var active = true
    private var interfacesInSection = 0
    /// Interfaces seen in earlier sections: pcapng numbers interfaces per section.
    private var sectionBase = 0
    /// The Decryption Secrets Block being read: its secrets type, and its body after that.
    private var secretsType: UInt32?
    private var secretsBody: [UInt8] = []
    /// Decryption secrets read and not yet handed on: (secrets type, data).
    private var pendingSecrets: [(UInt32, [UInt8])] = []
    /// Longest Decryption Secrets Block kept (a key log line is about 200 bytes).
    static let maxSecretsBlock = 16 << 20

    /// Receives each Decryption Secrets Block's secrets type (`0x544c534b`: a TLS key log) and
    /// data, on the thread that reads the capture; those read before it was set come first.
    public var onSecrets: ((UInt32, [UInt8]) -> Void)? {
        didSet {
            guard let onSecrets else { return }
            for (t, d) in pendingSecrets { onSecrets(t, d) }
            pendingSecrets.removeAll()
        }
    }

    /// The interface index of the next packet (0-based across sections), or 0 when unknown.
    func nextPacketInterface() -> Int {
        guard taken < queue.count else { return 0 }
        let i = queue[taken]
        taken += 1
        // Keep the queue short: it holds the packets of about one read ahead of libpcap.
        if taken >= 4096 {
            queue.removeFirst(taken)
            taken = 0
        }
        return Int(i)
    }

    /// Follows the blocks through the next bytes of the input.
    func consume(_ bytes: UnsafeRawBufferPointer) {
        guard active, let base = bytes.baseAddress else { return }
        var i = 0
        let n = bytes.count
        while i < n {
            if skip > 0 {
                let t = min(skip, n - i)
                if secretsType != nil { secretsBody.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: t)) }
                skip -= t
                i += t
                if skip == 0, secretsType != nil { secretsBlockEnded() }
                continue
            }
            if held == 0, n - i >= 12 {
                guard block(UnsafeRawBufferPointer(start: base + i, count: 12)) else { active = false; return }
                i += 12
                continue
            }
            let t = min(12 - held, n - i)
            withUnsafeMutableBytes(of: &header) { h in
                h.baseAddress!.advanced(by: held).copyMemory(from: base + i, byteCount: t)
            }
            held += t
            i += t
            if held == 12 {
                held = 0
                let ok = withUnsafeBytes(of: header) { h in block(UnsafeRawBufferPointer(rebasing: h[0..<12])) }
                guard ok else { active = false; return }
            }
        }
    }

    /// Reads one block's first 12 bytes and sets the rest to be skipped; false when the bytes are
    /// not a pcapng block.
    private func block(_ head: UnsafeRawBufferPointer) -> Bool {
        let sectionHeader = head[0] == 0x0a && head[1] == 0x0d && head[2] == 0x0d && head[3] == 0x0a
        if !started {
            started = true
            guard sectionHeader else { return false }
        }
        if sectionHeader {
            // The byte-order magic decides the endianness of this section, its length included.
            bigEndian = head[8] == 0x1a
            sectionBase += interfacesInSection
            interfacesInSection = 0
        }
        let type = sectionHeader ? 0x0a0d0d0a : u32(head, 0)
        let length = Int(u32(head, 4))
        guard length >= 12, length % 4 == 0 else { return false }
        switch type {
        case 1: interfacesInSection += 1
        case 6: queue.append(Int32(truncatingIfNeeded: sectionBase + Int(u32(head, 8))))
        case 2:
            let id = bigEndian ? UInt16(head[8]) << 8 | UInt16(head[9]) : UInt16(head[9]) << 8 | UInt16(head[8])
            queue.append(Int32(truncatingIfNeeded: sectionBase + Int(id)))
        case 3: queue.append(Int32(truncatingIfNeeded: sectionBase))
        case 10:
            if length <= Self.maxSecretsBlock {
                secretsType = u32(head, 8)
                secretsBody.removeAll()
            }
        default: break
        }
        skip = length - 12
        return true
    }

    /// A Decryption Secrets Block was read whole: its body holds the secrets' length, the
    /// secrets (padded to 4 bytes), options and the block's length again.
    private func secretsBlockEnded() {
        defer {
            secretsType = nil
            secretsBody.removeAll()
        }
        guard let type = secretsType, secretsBody.count >= 4 else { return }
        let length = secretsBody.withUnsafeBytes { Int(u32($0, 0)) }
        guard length <= secretsBody.count - 4 else { return }
        let data = Array(secretsBody[4..<(4 + length)])
        if let onSecrets { onSecrets(type, data) } else { pendingSecrets.append((type, data)) }
    }

    private func u32(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt32 {
        let v = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
        return bigEndian ? v.byteSwapped : v
    }
}
