extension Timestamp {
    /// A time given on the command line: seconds since the epoch (`1764478975`, `1764478975.25`)
    /// or an ISO 8601 / RFC 3339 date and time (`2026-11-30T05:02:55Z`, `2026-11-30 05:02:55.5`,
    /// `2026-11-30T06:02:55+01:00`, `2026-11-30`). A time without a zone is UTC, the zone
    /// smtpscope prints; a date alone is its midnight. Nil for anything else.
    public init?(parsing text: String) {
        let b = Array(text.utf8)
        guard !b.isEmpty else { return nil }
        var i = 0
        func isDigit(_ k: Int) -> Bool { k < b.count && b[k] >= 48 && b[k] <= 57 }
        /// Exactly `n` digits at `i`.
        func number(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + n) {
                guard isDigit(k) else { return nil }
                v = v * 10 + Int64(b[k] - 48)
            }
            i += n
            return v
        }
        /// `.ddd…` at `i`, as nanoseconds (digits past the ninth are dropped).
        func fraction() -> Int64? {
            guard i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") else { return 0 }
            i += 1
            guard isDigit(i) else { return nil }
            var ns: Int64 = 0
            var digits = 0
            while isDigit(i) {
                if digits < 9 { ns = ns * 10 + Int64(b[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 9 { ns *= 10; digits += 1 }
            return ns
        }
        // Seconds since the epoch: digits only, with a fraction or not.
        if b.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") }) {
            var seconds: Int64 = 0
            guard isDigit(0) else { return nil }
            while isDigit(i) {
                guard seconds < 1 << 40 else { return nil }
                seconds = seconds * 10 + Int64(b[i] - 48)
                i += 1
            }
            guard let ns = fraction(), i == b.count else { return nil }
            self.init(seconds: seconds, nanoseconds: ns)
            return
        }
        guard let year = number(4), i < b.count, b[i] == UInt8(ascii: "-") else { return nil }
        i += 1
        guard let month = number(2), i < b.count, b[i] == UInt8(ascii: "-") else { return nil }
        i += 1
        guard let day = number(2), (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, ns: Int64 = 0, offset: Int64 = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
            i += 1
            guard let h = number(2), i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            guard let m = number(2), h < 24, m < 60 else { return nil }
            (hour, minute) = (h, m)
            if i < b.count, b[i] == UInt8(ascii: ":") {
                i += 1
                // 60: a leap second, as RFC 3339 allows; it counts as the next second's start.
                guard let s = number(2), s <= 60, let f = fraction() else { return nil }
                (second, ns) = (s, f)
            }
            if i < b.count {
                switch b[i] {
                case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                    i += 1
                case UInt8(ascii: "+"), UInt8(ascii: "-"):
                    let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = number(2), oh < 24 else { return nil }
                    if i < b.count, b[i] == UInt8(ascii: ":") { i += 1 }
                    guard let om = number(2), om < 60 else { return nil }
                    offset = sign * (oh * 3600 + om * 60)
                default:
                    return nil
                }
            }
            guard i == b.count else { return nil }
        }
        let seconds = Self.daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        self.init(seconds: seconds, nanoseconds: ns)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date, after H. Hinnant's `days_from_civil`.
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
