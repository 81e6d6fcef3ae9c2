import ScopeCore

/// A small, fast JSON writer with a fixed key order, so output is deterministic and diffable.
///
/// Strings from the capture are written byte-exact where they are valid UTF-8; an invalid byte
/// becomes the six characters `\\xNN` (a literal backslash, `x` and two hex digits), so the output
/// is always valid UTF-8 and JSON. Control characters use `\uNNNN`.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value or key needs a comma before it: false right after an opening
    /// bracket or a key, true after any value.
    private var needsComma = false

    public init() { bytes.reserveCapacity(4096) }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    @inline(__always)
    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":` — the next value call completes the member.
    public mutating func key(_ k: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A key that is not a literal (header names asked for by the user).
    public mutating func key(dynamic k: String) {
        stringBytes(Array(k.utf8))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { stringBytes($0) }
    }

    public mutating func string(_ s: String?) {
        if let s { string(s) } else { null() }
    }

    /// Bytes from the wire: valid UTF-8 kept, invalid bytes written as `\\xNN`.
    public mutating func stringBytes<C: Collection>(_ raw: C) where C.Element == UInt8 {
        if let done: Void = raw.withContiguousStorageIfAvailable({ stringBytes(buffer: $0) }) { return done }
        Array(raw).withUnsafeBufferPointer { stringBytes(buffer: $0) }
    }

    private mutating func stringBytes(buffer a: UnsafeBufferPointer<UInt8>) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        var i = 0
        var run = 0  // start of the pending run of bytes that need no escaping
        func flush(_ upTo: Int) {
            if upTo > run { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: a[run..<upTo])) }
        }
        while i < a.count {
            // Eight plain bytes at a time (most of a line): none below 0x20, none 0x7f or above,
            // no quote, no backslash.
            while i + 8 <= a.count, Self.plain(UnsafeRawPointer(a.baseAddress! + i).loadUnaligned(as: UInt64.self)) { i += 8 }
            guard i < a.count else { break }
            let b = a[i]
            if b >= 0x20, b < 0x80, b != UInt8(ascii: "\""), b != 0x5c, b != 0x7f {
                i += 1
                continue
            }
            if b >= 0x80 {
                let len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0
                if len > 0, i + len <= a.count, String(validating: UnsafeBufferPointer(rebasing: a[i..<(i + len)]), as: UTF8.self) != nil {
                    i += len
                    continue
                }
            }
            flush(i)
            switch b {
            case UInt8(ascii: "\""): bytes += [0x5c, 0x22]
            case 0x5c: bytes += [0x5c, 0x5c]
            case 0x0a: bytes += [0x5c, UInt8(ascii: "n")]
            case 0x0d: bytes += [0x5c, UInt8(ascii: "r")]
            case 0x09: bytes += [0x5c, UInt8(ascii: "t")]
            case 0..<0x20, 0x7f:
                bytes += [0x5c, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                bytes += hex(b)
            default:
                // Not valid UTF-8: the literal text \xNN.
                bytes += [0x5c, 0x5c, UInt8(ascii: "x")]
                bytes += hex(b)
            }
            i += 1
            run = i
        }
        flush(a.count)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Whether eight bytes need no escaping: the classic SWAR tests for a byte below a bound and
    /// for a zero byte (after XOR with the byte looked for); exact, with no false answers.
    @inline(__always)
    static func plain(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        let control = (w &- ones &* 0x20) & ~w & highs  // a byte below 0x20
        let del = hasZero(w ^ (ones &* 0x7f))
        return w & highs == 0 && control == 0 && !del && !hasZero(w ^ (ones &* 0x22)) && !hasZero(w ^ (ones &* 0x5c))
    }

    /// A timestamp as an RFC 3339 string (UTC, microseconds).
    public mutating func timestamp(_ t: Timestamp) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        t.appendRFC3339(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func timestamp(_ t: Timestamp?) {
        if let t { timestamp(t) } else { null() }
    }

    public mutating func int(_ v: Int) {
        separator()
        appendInteger(v)
    }

    private mutating func appendInteger(_ v: Int) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 24 digits, least significant first
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(truncatingIfNeeded: 48 &+ m % 10)
                m /= 10
                n += 1
            } while m > 0
            while n > 0 {
                n -= 1
                bytes.append(d[n])
            }
        }
    }

    /// `ip:port` (IPv6 as `[addr]:port`), as `Endpoint.description` writes it; IPv4 without
    /// building a String (two per record).
    public mutating func endpoint(_ e: Endpoint) {
        guard case .v4(let a) = e.address else { return string(e.description) }
        separator()
        bytes.append(UInt8(ascii: "\""))
        for shift in [24, 16, 8, 0] as [UInt32] {
            appendInteger(Int(a >> shift & 0xff))
            bytes.append(shift == 0 ? UInt8(ascii: ":") : UInt8(ascii: "."))
        }
        appendInteger(Int(e.port))
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func int(_ v: Int?) {
        if let v { int(v) } else { null() }
    }

    /// A number with at most `decimals` decimals, never in exponent form.
    public mutating func double(_ v: Double, decimals: Int = 6) {
        separator()
        guard v.isFinite, abs(v) < 9e12 else { return literal("null") }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let n = Int64((abs(v) * Double(scale)).rounded())
        if v < 0 && n > 0 { bytes.append(UInt8(ascii: "-")) }
        appendInteger(Int(n / scale))
        var frac = n % scale
        guard frac > 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var width = decimals
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(truncatingIfNeeded: 48 + frac / divisor % 10))
            divisor /= 10
        }
    }

    public mutating func bool(_ v: Bool) {
        separator()
        literal(v ? "true" : "false")
    }

    public mutating func null() {
        separator()
        literal("null")
    }

    private mutating func literal(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Ends a top-level record (JSON lines).
    public mutating func newline() {
        bytes.append(0x0a)
        needsComma = false
    }

    private func hex(_ b: UInt8) -> [UInt8] {
        let d = Array("0123456789abcdef".utf8)
        return [d[Int(b >> 4)], d[Int(b & 0xf)]]
    }
}
