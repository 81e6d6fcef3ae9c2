/// RFC 4648 base64 decoding, tolerant of missing padding and surrounding white space; nil on any
/// other character. Used for AUTH exchanges and RFC 2047 `B` words, both from untrusted bytes.
public enum Base64 {
    public static func decode<C: Collection>(_ input: C) -> [UInt8]? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in input {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - 48 + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): v = 63
            case UInt8(ascii: "="), 0x20, 0x09, 0x0d, 0x0a: continue
            default: return nil
            }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        return out
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        /// The four characters of 24 bits, of which `count` are data and the rest padding.
        func quad(_ n: UInt32, _ count: Int) {
            for k in 0..<4 { out.append(k < count ? alphabet[Int(n >> (18 - 6 * UInt32(k)) & 63)] : UInt8(ascii: "=")) }
        }
        var i = 0
        while i + 2 < bytes.count {
            quad(UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]), 4)
            i += 3
        }
        switch bytes.count - i {
        case 1: quad(UInt32(bytes[i]) << 16, 2)
        case 2: quad(UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8, 3)
        default: break
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// ASCII helpers over raw bytes.
public enum ASCII {
    @inlinable
    public static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b | 0x20 : b }

    @inlinable
    public static func upper(_ b: UInt8) -> UInt8 { b >= 97 && b <= 122 ? b & 0xdf : b }

    /// Case-insensitive prefix test against a lower-case ASCII literal.
    @inlinable
    public static func hasPrefix<C: Collection>(_ bytes: C, lowercased prefix: StaticString) -> Bool where C.Element == UInt8 {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        var i = bytes.startIndex
        let p = prefix.utf8Start
        for k in 0..<count {
            if lower(bytes[i]) != p[k] { return false }
            i = bytes.index(after: i)
        }
        return true
    }

    @inlinable
    public static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    @inlinable
    public static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
}
