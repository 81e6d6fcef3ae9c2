import Capture
import Vocabulary

/// Reading on a thread of its own: the system calls, libpcap's parsing and the merge of several
/// files run there, filling a few recycled blocks, while the caller's thread takes the packets
/// out of them — in the same order, with the same errors, as reading on the caller's thread.
enum PacketPrefetch {
    /// Packets copied out of libpcap's buffers, to cross from the reading thread.
    private final class Block {
        static let size = Limits.readBlockBytes
        let bytes = ByteBuffer(capacity: Block.size)
        var packets: [(offset: Int, length: Int, wireLength: Int, time: Timestamp, vantage: Vantage)] = []

        /// Copies the packet in; false when the block is full (it takes any packet when empty).
        func add(_ p: RawPacket) -> Bool {
            if bytes.count + p.bytes.count > Block.size || packets.count >= Limits.readBlockPackets, !packets.isEmpty { return false }
            packets.append((bytes.count, p.bytes.count, p.wireLength, p.time, p.vantage))
            bytes.append(p.bytes)
            return true
        }
    }

    /// Every packet of `captures`, as `CaptureSet.forEach` gives them, read on another thread.
    static func forEach(_ captures: CaptureSet, _ body: (RawPacket) -> Void) {
        let blocks = BatchExchange(count: Limits.readBlocks) { Block() }
        // Handed to the reader thread: the capture set (used by no other thread until it is
        // joined) and the exchange; blocks go back and forth through it, one thread's at a time.
        let reader = WorkerThread {
            var spare: [Block] = []
            var block = blocks.empty(&spare)
            captures.forEach { p in
                if !block.add(p) {
                    blocks.send(block)
                    block = blocks.empty(&spare)
                    _ = block.add(p)
                }
            }
            if !block.packets.isEmpty { blocks.send(block) }
            blocks.close()
        }
        guard let reader else { return captures.forEach(body) }
        blocks.receive { block in
            block.bytes.withBytes { raw in
                for p in block.packets {
                    let bytes = UnsafeRawBufferPointer(rebasing: raw[p.offset..<(p.offset + p.length)])
                    body(RawPacket(time: p.time, bytes: bytes, wireLength: p.wireLength, vantage: p.vantage))
                }
            }
            block.bytes.removeAll()
            block.packets.removeAll(keepingCapacity: true)
        }
        reader.join()
    }
}
