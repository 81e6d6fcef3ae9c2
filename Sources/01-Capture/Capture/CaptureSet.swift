import Vocabulary

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

    /// Opens every file; only the packets `selection` takes are read from them. A filter that does
    /// not compile for a file's link type is an error of that file marked `isUsageError`.
    public init(paths: [String], selection: PacketSelection = PacketSelection()) {
        for (i, path) in paths.enumerated() {
            do {
                let f = try PcapFile(path: path, index: i, selection: selection)
                files.append(f)
            } catch {
                errors.append(error)
            }
        }
        heads = files.map { _ in nil }
        for i in files.indices { advance(i) }
    }

    /// Receives the Decryption Secrets Blocks of every file (pcapng, `editcap --inject-secrets`):
    /// secrets type (`0x544c534b` for a TLS key log) and data, as the files are read; those read
    /// already (with the first packets) when it is set come at once.
    public var onSecrets: ((UInt32, [UInt8]) -> Void)? {
        didSet { for f in files { f.onSecrets = onSecrets } }
    }

    /// Bytes of the files read so far (before decompression); safe to call from any thread.
    public var bytesRead: Int { files.reduce(0) { $0 + $1.bytesRead } }
    /// The files' total size, or nil when one is standard input or a pipe.
    public var totalBytes: Int? {
        var total = 0
        for f in files {
            guard let n = f.size else { return nil }
            total += n
        }
        return total
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
    /// packet's file is `vantage.file`, the place of its path in `paths`. On the calling thread:
    /// the pipeline's driver reads on a thread of its own by calling this there.
    public func forEach(_ body: (RawPacket) -> Void) {
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
}
