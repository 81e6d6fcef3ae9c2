import Vocabulary

/// A small, fast JSON writer with a fixed key order, so output is deterministic and diffable.
///
/// Strings from the capture are written byte-exact where they are valid UTF-8; an invalid byte
/// becomes the six characters `\\xNN` (a literal backslash, `x` and two hex digits), so the output
/// is always valid UTF-8 and JSON. Control characters use `\uNNNN`.
///
/// The bytes go to a buffer of its own (a class: an array would be checked for uniqueness at every
/// byte appended), so copies of a writer share it: use one writer in one place.
public struct JSONWriter {
    private let buffer = ByteBuffer(capacity: 4096)
    /// Whether the next value or key needs a comma before it: false right after an opening
    /// bracket or a key, true after any value.
    private var needsComma = false
    /// The second of the last timestamp written, and its first 20 bytes of text (up to the dot).
    private var stampSecond = Int64.min
    private var stampPrefix: (UInt64, UInt64, UInt64) = (0, 0, 0)

    public init() {}

    /// What was written so far.
    public var bytes: [UInt8] { buffer.withBytes { Array($0) } }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withBytes(body)
    }

    public mutating func reset() {
        buffer.removeAll()
        needsComma = false
    }

    @inline(__always)
    private mutating func separator() {
        if needsComma { buffer.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    public mutating func beginObject() {
        separator()
        buffer.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        buffer.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separator()
        buffer.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        buffer.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":` — the next value call completes the member.
    public mutating func key(_ k: StaticString) {
        separator()
        buffer.append(UInt8(ascii: "\""))
        buffer.append(UnsafeRawBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
        buffer.append(UInt8(ascii: "\""))
        buffer.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A key that is not a literal (header names asked for by the user).
    public mutating func key(dynamic k: String) {
        stringBytes(Array(k.utf8))
        buffer.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A string known at compile time to need no escaping (a keyword of the output), as it is.
    public mutating func plainString(_ s: StaticString) {
        separator()
        let out = buffer
        out.append(UInt8(ascii: "\""))
        out.append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
        out.append(UInt8(ascii: "\""))
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

    /// Bytes from the wire, to be read back exactly (the `leg` record): valid UTF-8 kept, each
    /// invalid byte written `\u00NN` — which valid UTF-8 above 0x7f never is here (it is written as
    /// it is), so a reader that takes `\u0080`…`\u00ff` for the byte gets every byte back.
    public mutating func exactBytes<C: Collection>(_ raw: C) where C.Element == UInt8 {
        if let done: Void = raw.withContiguousStorageIfAvailable({ stringBytes(buffer: $0, exact: true) }) { return done }
        Array(raw).withUnsafeBufferPointer { stringBytes(buffer: $0, exact: true) }
    }

    private mutating func stringBytes(buffer a: UnsafeBufferPointer<UInt8>, exact: Bool = false) {
        separator()
        // One reference for the whole string (a closure over `self` would retain it per use).
        let out = buffer
        out.append(UInt8(ascii: "\""))
        var i = 0
        var run = 0  // start of the pending run of bytes that need no escaping
        while i < a.count {
            // Eight plain bytes at a time (most of a line): none below 0x20, none 0x7f or above,
            // no quote, no backslash.
            while i + 8 <= a.count, Self.plain(UnsafeRawPointer(a.baseAddress! + i).loadUnaligned(as: UInt64.self)) { i += 8 }
            guard i < a.count else { break }
            // A tail shorter than eight bytes (or a short string), padded with plain spaces.
            if a.count - i < 8 {
                var w: UInt64 = 0x2020_2020_2020_2020
                for k in 0..<(a.count - i) { w = w & ~(0xff << (8 * k)) | UInt64(a[i + k]) << (8 * k) }
                if Self.plain(w) {
                    i = a.count
                    break
                }
            }
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
            if i > run { out.append(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: a[run..<i]))) }
            switch b {
            case UInt8(ascii: "\""): literal(#"\""#)
            case 0x5c: literal(#"\\"#)
            case 0x0a: literal(#"\n"#)
            case 0x0d: literal(#"\r"#)
            case 0x09: literal(#"\t"#)
            case 0..<0x20, 0x7f:
                literal(#"\u00"#)
                appendHex(b)
            default:
                // Not valid UTF-8: the literal text \xNN, or the byte as an escape to read back.
                if exact { literal(#"\u00"#) } else { literal(#"\\x"#) }
                appendHex(b)
            }
            i += 1
            run = i
        }
        if a.count > run { out.append(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: a[run..<a.count]))) }
        out.append(UInt8(ascii: "\""))
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
        buffer.append(UInt8(ascii: "\""))
        let (seconds, nanos) = t.secondsAndFraction
        // Most timestamps fall in the second of the one before: its date and time are kept.
        if seconds != stampSecond {
            stampSecond = seconds
            t.withRFC3339 { text in withUnsafeMutableBytes(of: &stampPrefix) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: text[..<20])) } }
        }
        let out = buffer
        withUnsafeBytes(of: stampPrefix) { out.append(UnsafeRawBufferPointer(rebasing: $0[..<20])) }
        var micros = nanos / 1000
        var digits: UInt64 = 0
        for _ in 0..<6 {
            digits = digits << 8 | UInt64(48 + micros % 10)
            micros /= 10
        }
        withUnsafeBytes(of: digits.littleEndian) { out.append(UnsafeRawBufferPointer(rebasing: $0[..<6])) }
        out.append(UInt8(ascii: "Z"))
        out.append(UInt8(ascii: "\""))
    }

    public mutating func timestamp(_ t: Timestamp?) {
        if let t { timestamp(t) } else { null() }
    }

    public mutating func int(_ v: Int) {
        separator()
        appendInteger(v)
    }

    private mutating func appendInteger(_ v: Int) {
        if v < 0 { buffer.append(UInt8(ascii: "-")) }
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
                buffer.append(d[n])
            }
        }
    }

    /// `ip:port` (IPv6 as `[addr]:port`), as `Endpoint.description` writes it; IPv4 without
    /// building a String (two per record).
    public mutating func endpoint(_ e: Endpoint) {
        guard case .v4(let a) = e.address else { return string(e.description) }
        separator()
        buffer.append(UInt8(ascii: "\""))
        for octet in 0..<4 {
            appendInteger(Int(a >> (24 - 8 * UInt32(octet)) & 0xff))
            buffer.append(octet == 3 ? UInt8(ascii: ":") : UInt8(ascii: "."))
        }
        appendInteger(Int(e.port))
        buffer.append(UInt8(ascii: "\""))
    }

    /// Seconds since the epoch as a JSON number with up to six decimals, trailing zeros dropped
    /// but one kept (`1254722767.49206`, `1254722767.0`): the number Zeek's JSON logs write for
    /// a time, a double printed in its shortest form.
    public mutating func epochSeconds(_ t: Timestamp) {
        separator()
        var micros = t.nanoseconds / 1000
        if t.nanoseconds % 1000 >= 500 { micros += 1 }
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        var frac = Int(micros - seconds * 1_000_000)
        appendInteger(Int(seconds))
        buffer.append(UInt8(ascii: "."))
        guard frac > 0 else { return buffer.append(UInt8(ascii: "0")) }
        var width = 6
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            buffer.append(UInt8(truncatingIfNeeded: 48 + frac / divisor % 10))
            divisor /= 10
        }
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
        if v < 0 && n > 0 { buffer.append(UInt8(ascii: "-")) }
        appendInteger(Int(n / scale))
        var frac = n % scale
        guard frac > 0 else { return }
        buffer.append(UInt8(ascii: "."))
        var width = decimals
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            buffer.append(UInt8(truncatingIfNeeded: 48 + frac / divisor % 10))
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
        buffer.append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Ends a top-level record (JSON lines).
    public mutating func newline() {
        buffer.append(0x0a)
        needsComma = false
    }

    private func appendHex(_ b: UInt8) {
        func digit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }
        buffer.append(digit(b >> 4))
        buffer.append(digit(b & 0xf))
    }
}
