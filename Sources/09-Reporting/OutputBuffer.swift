#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered writes to a file descriptor (stdout by default): output is assembled in memory and
/// written in large blocks.
public final class OutputBuffer {
    private var buffer: [UInt8] = []
    private let fd: Int32
    private let threshold: Int
    /// Flush after every record (live capture: each transaction must appear as it completes).
    public var immediate = false
    /// Called before each write to the descriptor (a progress line on the same terminal erases
    /// itself there).
    public var beforeWrite: (() -> Void)?

    public init(fd: Int32 = 1, threshold: Int = 1 << 16) {
        self.fd = fd
        self.threshold = threshold
        buffer.reserveCapacity(threshold + 4096)
    }

    public func write(_ bytes: [UInt8]) {
        buffer += bytes
        if immediate || buffer.count >= threshold { flush() }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
        if immediate || buffer.count >= threshold { flush() }
    }

    public func write(_ s: String) { write(Array(s.utf8)) }

    public func flush() {
        if !buffer.isEmpty { beforeWrite?() }
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { p in
                #if canImport(Glibc)
                Glibc.write(fd, p.baseAddress! + offset, p.count - offset)
                #else
                Darwin.write(fd, p.baseAddress! + offset, p.count - offset)
                #endif
            }
            if n <= 0 { break }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}
