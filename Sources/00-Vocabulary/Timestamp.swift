/// A capture time: nanoseconds since the Unix epoch, UTC.
///
/// Integers, not `Double`, so that ordering and differences are exact at nanosecond resolution.
public struct Timestamp: Hashable, Comparable, Sendable {
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    @inlinable
    public init(seconds: Int64, nanoseconds: Int64) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ nanoseconds
    }

    public static let zero = Timestamp(nanoseconds: 0)

    @inlinable public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    @inlinable
    public func seconds(since earlier: Timestamp) -> Double {
        Double(nanoseconds &- earlier.nanoseconds) / 1e9
    }

    @inlinable
    public func adding(seconds: Double) -> Timestamp {
        Timestamp(nanoseconds: nanoseconds &+ Int64(seconds * 1e9))
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-03-02T09:14:07.120000Z`.
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(27)
        appendRFC3339(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3339 text appended to `out` as bytes, without building strings (JSON output of every
    /// timeline line).
    public func appendRFC3339(to out: inout [UInt8]) {
        withRFC3339 { out.append(contentsOf: $0) }
    }

    /// The RFC 3339 text (27 bytes, `2026-03-02T09:14:07.120000Z`) written on the stack.
    public func withRFC3339<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let c = civil()
        var text: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return try withUnsafeMutableBytes(of: &text) { t in
            var i = 0
            func digits(_ v: Int64, _ width: Int, then separator: UInt8) {
                var v = v
                for k in stride(from: width - 1, through: 0, by: -1) {
                    t[i + k] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
                t[i + width] = separator
                i += width + 1
            }
            digits(c.year, 4, then: 45)
            digits(c.month, 2, then: 45)
            digits(c.day, 2, then: 84)
            digits(c.hour, 2, then: 58)
            digits(c.minute, 2, then: 58)
            digits(c.second, 2, then: 46)
            digits(c.micros, 6, then: 90)
            return try body(UnsafeRawBufferPointer(rebasing: t[..<i]))
        }
    }

    /// `2026-03-02 09:14:07.120 UTC`, for people.
    public var humanUTC: String {
        let c = civil()
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2)) \(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(c.micros / 1000, 3)) UTC"
    }

    private struct Civil {
        var year, month, day, hour, minute, second, micros: Int64
    }

    /// Calendar fields in UTC (proleptic Gregorian), after H. Hinnant's `civil_from_days`.
    /// Whole seconds since the epoch (rounded down, also before 1970) and the nanoseconds past them.
    @inlinable
    public var secondsAndFraction: (seconds: Int64, nanoseconds: Int64) {
        let frac = nanoseconds % 1_000_000_000
        return frac < 0 ? (nanoseconds / 1_000_000_000 - 1, frac + 1_000_000_000) : (nanoseconds / 1_000_000_000, frac)
    }

    private func civil() -> Civil {
        let (secs, frac) = secondsAndFraction
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return Civil(year: y, month: m, day: d, hour: rem / 3600, minute: rem % 3600 / 60, second: rem % 60, micros: frac / 1000)
    }
}

@usableFromInline
func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
