/// An IPv4 or IPv6 address, stored inline (no allocation), hashable for flow tables.
public enum IPAddress: Hashable, Sendable, Comparable {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let x1, let x2), .v6(let y1, let y2)): return (x1, x2) < (y1, y2)
        }
    }

    /// The address in network byte order (4 or 16 bytes).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a):
            return [UInt8(a >> 24), UInt8(truncatingIfNeeded: a >> 16), UInt8(truncatingIfNeeded: a >> 8), UInt8(truncatingIfNeeded: a)]
        case .v6(let hi, let lo):
            var out = [UInt8]()
            out.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: hi >> UInt64(shift))) }
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: lo >> UInt64(shift))) }
            return out
        }
    }

    public var isIPv6: Bool { if case .v6 = self { return true } else { return false } }
}

extension IPAddress: CustomStringConvertible {
    /// Dotted quad for IPv4; RFC 5952 text (lower case, longest zero run compressed) for IPv6.
    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\(a >> 16 & 0xff).\(a >> 8 & 0xff).\(a & 0xff)"
        case .v6(let hi, let lo):
            var groups = [UInt16]()
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: hi >> UInt64(shift))) }
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: lo >> UInt64(shift))) }
            // IPv4-mapped addresses print their IPv4 tail.
            if hi == 0, lo >> 32 == 0xffff {
                return "::ffff:" + IPAddress.v4(UInt32(truncatingIfNeeded: lo)).description
            }
            var bestStart = -1, bestLen = 0, i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8, groups[j] == 0 { j += 1 }
                    if j - i > bestLen, j - i >= 2 { bestStart = i; bestLen = j - i }
                    i = j
                } else { i += 1 }
            }
            func hex(_ g: UInt16) -> String { String(g, radix: 16) }
            if bestStart < 0 { return groups.map(hex).joined(separator: ":") }
            let head = groups[..<bestStart].map(hex).joined(separator: ":")
            let tail = groups[(bestStart + bestLen)...].map(hex).joined(separator: ":")
            return head + "::" + tail
        }
    }
}

/// An address and a TCP port.
public struct Endpoint: Hashable, Sendable, Comparable {
    public var address: IPAddress
    public var port: UInt16

    @inlinable
    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

extension Endpoint: CustomStringConvertible {
    /// `ip:port`, IPv6 as `[addr]:port`.
    public var description: String {
        address.isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}
