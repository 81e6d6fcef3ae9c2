/// Makes captured bytes safe to show: nothing from a capture may drive a terminal.
///
/// Printable ASCII and valid UTF-8 text pass through; control characters (C0, DEL, C1), bidi
/// overrides and invalid bytes become `\xNN` (or `\u{…}` for non-ASCII scalars), and a backslash
/// becomes `\\` so that the escaping cannot be forged.
public enum Printable {
    public static func escape<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = ""
        out.reserveCapacity(bytes.count)
        // Decode scalar by scalar; on an error, escape the offending bytes one by one.
        let buffered = Array(bytes)
        var i = 0
        while i < buffered.count {
            let b = buffered[i]
            if b < 0x80 {
                appendASCII(b, to: &out)
                i += 1
                continue
            }
            let len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
            if len > 1, i + len <= buffered.count, let s = String(validating: buffered[i..<(i + len)], as: UTF8.self),
                let scalar = s.unicodeScalars.first
            {
                if isUnsafe(scalar) {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
                i += len
            } else {
                out += "\\x" + hex(b)
                i += 1
            }
        }
        return out
    }

    /// Escapes a String that came from a capture (decoded header values).
    public static func escape(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.utf8.count)
        for scalar in string.unicodeScalars {
            if scalar.value < 0x80 {
                appendASCII(UInt8(scalar.value), to: &out)
            } else if isUnsafe(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// At most `limit` characters of escaped text, with `…` when cut.
    public static func short<C: Collection>(_ bytes: C, limit: Int = 80) -> String where C.Element == UInt8 {
        let s = escape(bytes.prefix(limit * 4))
        return s.count > limit ? String(s.prefix(limit)) + "…" : s
    }

    @inline(__always)
    static func appendASCII(_ b: UInt8, to out: inout String) {
        switch b {
        case 0x5c: out += "\\\\"
        case 0x20...0x7e: out.unicodeScalars.append(Unicode.Scalar(b))
        case 0x09: out += "\\t"
        case 0x0d: out += "\\r"
        case 0x0a: out += "\\n"
        default: out += "\\x" + hex(b)
        }
    }

    static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x80...0x9f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
            || v == 0x200e || v == 0x200f || v == 0x061c || v == 0xfeff
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xf)]])
    }
}

extension Collection where Element == UInt8 {
    /// Whether the bytes contain `needle` (ASCII, compared exactly), without building strings.
    public func containsASCII(_ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0 else { return true }
        let first = needle.utf8Start.pointee
        var i = startIndex
        while i != endIndex {
            if self[i] == first {
                var j = i, k = 0
                while k < n, j != endIndex, self[j] == needle.utf8Start[k] {
                    formIndex(after: &j)
                    k += 1
                }
                if k == n { return true }
            }
            formIndex(after: &i)
        }
        return false
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (the blanks of RFC 5322's folding white space).
    public var trimmingBlanks: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
