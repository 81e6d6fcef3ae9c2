import TLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A key log file read as it grows: each call hands the bytes it gained since the last one to the
/// store (the store keeps a line that has no newline yet until it has one).
public final class KeyLogFollower {
    private let fd: Int32
    private let keys: KeyLogStore

    public init?(path: String, into keys: KeyLogStore) {
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        self.keys = keys
        readOn()
    }

    deinit { close(fd) }

    public func readOn() {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            guard n > 0 else { return }
            keys.add(buffer[..<n])
        }
    }
}
