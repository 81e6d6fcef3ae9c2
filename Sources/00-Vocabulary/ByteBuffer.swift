/// A growable byte buffer without copy-on-write: appending a byte is a bounds test and a store.
/// A class, so copies share it: one owner at a time.
public final class ByteBuffer {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var used = 0
    public var count: Int { used }

    public init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inlinable @inline(__always)
    public func append(_ b: UInt8) {
        if used == capacity { grow(to: used + 1) }
        base[used] = b
        used += 1
    }

    @inlinable @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        if used + bytes.count > capacity { grow(to: used + bytes.count) }
        UnsafeMutableRawPointer(base + used).copyMemory(from: from, byteCount: bytes.count)
        used += bytes.count
    }

    @usableFromInline
    func grow(to needed: Int) {
        var size = capacity * 2
        while size < needed { size *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        bigger.update(from: base, count: used)
        base.deallocate()
        base = bigger
        capacity = size
    }

    public func removeAll() { used = 0 }

    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: used))
    }
}
