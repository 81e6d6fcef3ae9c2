import ScopeCore

/// Several capture files read as one stream in timestamp order, so that captures taken at two
/// points of the network can be analysed together. Each packet keeps its `Vantage` (file and
/// pcapng interface).
///
/// Files that cannot be opened are reported in `errors` and left out; a file that turns out to be
/// damaged part-way stops contributing at that point, its earlier packets already delivered.
public final class CaptureSet {
    public private(set) var files: [PcapFile] = []
    public private(set) var errors: [CaptureError] = []
    /// Each file's next packet, pending the merge.
    private var heads: [RawPacket?] = []

    public init(paths: [String]) {
        for (i, path) in paths.enumerated() {
            do {
                let f = try PcapFile(path: path, index: i)
                files.append(f)
            } catch {
                errors.append(error)
            }
        }
        heads = files.map { _ in nil }
        for i in files.indices { advance(i) }
    }

    private func advance(_ i: Int) {
        do {
            heads[i] = try files[i].next()
        } catch {
            errors.append(error)
            heads[i] = nil
        }
    }

    /// Calls `body` for every packet of every file in timestamp order (ties: file order). A
    /// packet's file is `vantage.file`, the place of its path in `paths`.
    ///
    /// With `prefetch`, a second thread reads the files (the system calls, libpcap's parsing, the
    /// merge) into a few recycled blocks while `body` runs on the calling thread; packets arrive
    /// in the same order either way.
    public func forEach(prefetch: Bool = false, _ body: (RawPacket) -> Void) {
        if prefetch, let done = forEachPrefetched(body) { return done }
        forEachDirect { p, _ in body(p) }
    }

    /// The merge: `body` gets each packet and its file's place in `files`.
    private func forEachDirect(_ body: (RawPacket, Int) -> Void) {
        if files.count == 1 {
            // One file: read straight on, without the merge's bookkeeping per packet.
            let file = files[0]
            var next = heads[0]
            heads[0] = nil
            while let p = next {
                body(p, 0)
                do {
                    next = try file.next()
                } catch {
                    errors.append(error)
                    next = nil
                }
            }
            return
        }
        while true {
            var best = -1
            for i in heads.indices {
                guard let h = heads[i] else { continue }
                if best < 0 || h.time < heads[best]!.time { best = i }
            }
            guard best >= 0, let p = heads[best] else { return }
            body(p, best)
            // Reading on from this file invalidates only its own buffer.
            advance(best)
        }
    }

    /// Packets copied out of libpcap's buffers, to cross from the reading thread.
    private final class Block {
        static let size = 1 << 20
        let bytes = ByteBuffer(capacity: Block.size)
        var packets: [(offset: Int, length: Int, wireLength: Int, time: Timestamp, vantage: Vantage)] = []

        /// Copies the packet in; false when the block is full (it takes any packet when empty).
        func add(_ p: RawPacket) -> Bool {
            if bytes.count + p.bytes.count > Block.size || packets.count >= 8192, !packets.isEmpty { return false }
            packets.append((bytes.count, p.bytes.count, p.wireLength, p.time, p.vantage))
            bytes.append(p.bytes)
            return true
        }
    }

    private func forEachPrefetched(_ body: (RawPacket) -> Void) -> Void? {
        // Four blocks: the reader is the lightest stage and seldom far ahead; the memory goes to
        // the SMTP layer's hand-over, where the bursts are.
        let blocks = BatchExchange(count: 4) { Block() }
        // Handed to the reader thread: the files (used by no other thread until it is joined) and
        // the exchange; blocks go back and forth through it, one thread's at a time.
        let reader = WorkerThread { [self] in
            var spare: [Block] = []
            var block = blocks.empty(&spare)
            self.forEachDirect { p, _ in
                if !block.add(p) {
                    blocks.send(block)
                    block = blocks.empty(&spare)
                    _ = block.add(p)
                }
            }
            if !block.packets.isEmpty { blocks.send(block) }
            blocks.close()
        }
        guard let reader else { return nil }
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
        return ()
    }
}
