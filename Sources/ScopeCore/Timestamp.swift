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
        let (date, micros) = civil()
        return "\(date.y4)-\(date.m2)-\(date.d2)T\(date.hh):\(date.mm):\(date.ss).\(pad(micros, 6))Z"
    }

    /// RFC 3339 text appended to `out` as bytes, without building strings (JSON output of every
    /// timeline line).
    public func appendRFC3339(to out: inout [UInt8]) {
        var secs = nanoseconds / 1_000_000_000
        var frac = nanoseconds % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
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
        func digits(_ v: Int64, _ n: Int) {
            var buf: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (48, 48, 48, 48, 48, 48)
            var x = v
            withUnsafeMutableBytes(of: &buf) { b in
                for i in stride(from: n - 1, through: 0, by: -1) {
                    b[i] = UInt8(48 + x % 10)
                    x /= 10
                }
                out.append(contentsOf: b.prefix(n))
            }
        }
        digits(y, 4); out.append(45); digits(m, 2); out.append(45); digits(d, 2); out.append(84)
        digits(rem / 3600, 2); out.append(58); digits(rem % 3600 / 60, 2); out.append(58); digits(rem % 60, 2)
        out.append(46); digits(frac / 1000, 6); out.append(90)
    }

    /// `2026-03-02 09:14:07.120 UTC`, for people.
    public var humanUTC: String {
        let (date, micros) = civil()
        return "\(date.y4)-\(date.m2)-\(date.d2) \(date.hh):\(date.mm):\(date.ss).\(pad(micros / 1000, 3)) UTC"
    }

    private struct Civil {
        var y4, m2, d2, hh, mm, ss: String
    }

    private func civil() -> (Civil, Int64) {
        var secs = nanoseconds / 1_000_000_000
        var frac = nanoseconds % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        // Days to civil date (proleptic Gregorian), after H. Hinnant's `civil_from_days`.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let c = Civil(
            y4: pad(y, 4), m2: pad(m, 2), d2: pad(d, 2),
            hh: pad(rem / 3600, 2), mm: pad(rem % 3600 / 60, 2), ss: pad(rem % 60, 2))
        return (c, frac / 1000)
    }
}

@usableFromInline
func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
