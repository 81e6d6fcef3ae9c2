/// The one place that touches raw indices of untrusted bytes.
///
/// Every read checks its bounds and returns `nil` instead of trapping, so a decoder built on it
/// cannot over-read a truncated or hostile packet. Multi-byte reads are big-endian (network order)
/// unless they say otherwise.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read.
    public var offset: Int

    @inlinable @inline(__always)
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inlinable public var remaining: Int { bytes.count - offset }

    @inlinable @inline(__always)
    public mutating func readUInt8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    @inlinable @inline(__always)
    public mutating func readUInt16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    @inlinable @inline(__always)
    public mutating func readUInt16LE() -> UInt16? {
        guard let v = readUInt16() else { return nil }
        return v.byteSwapped
    }

    @inlinable @inline(__always)
    public mutating func readUInt32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    @inlinable @inline(__always)
    public mutating func readUInt32LE() -> UInt32? {
        guard let v = readUInt32() else { return nil }
        return v.byteSwapped
    }

    @inlinable @inline(__always)
    public mutating func readUInt64() -> UInt64? {
        guard let hi = readUInt32(), let lo = readUInt32() else { return nil }
        return UInt64(hi) << 32 | UInt64(lo)
    }

    /// Advances by `count` bytes; fails (consuming nothing) when fewer remain.
    @inlinable @inline(__always)
    @discardableResult
    public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, remaining >= count else { return false }
        offset += count
        return true
    }

    /// A view of the next `count` bytes, consumed.
    @inlinable @inline(__always)
    public mutating func readSlice(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// Everything that is left, consumed.
    @inlinable @inline(__always)
    public mutating func readRest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<bytes.count])
    }

    /// Byte at `offset + ahead` without consuming it.
    @inlinable @inline(__always)
    public func peek(_ ahead: Int = 0) -> UInt8? {
        let i = offset + ahead
        guard i >= 0, i < bytes.count else { return nil }
        return bytes[i]
    }
}
