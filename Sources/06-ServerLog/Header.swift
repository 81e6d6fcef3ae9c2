import Vocabulary

/// The part of a log line before its message: when, on which host, by which program.
struct LineHeader {
    var time: Timestamp
    var wholeSeconds: Bool
    var yearless: (month: Int, day: Int, nanos: Int64)?
    var host: String?
    var program: String?
    var pid: Int?
    /// Exim's own main log (no host or program: the time, then the message).
    var eximMainLog = false
    var message: Substring
}

/// Reads the headers of the log forms mail servers are found in: RFC 3164 syslog with or without
/// the year (and Postfix's own `maillog_file`, which writes the same), RFC 3339 times as rsyslog and
/// journald's `short-iso` write them, RFC 5424, and Exim's main log. Pure: text in, fields out; nil
/// for a line that has none of these forms.
enum HeaderParser {
    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func parse(_ line: Substring) -> LineHeader? {
        var rest = line
        // RFC 5424 (and some RFC 3164 relays) start with the priority: "<22>".
        var rfc5424 = false
        if rest.first == "<", let close = rest.prefix(6).firstIndex(of: ">") {
            guard rest[rest.index(after: rest.startIndex)..<close].allSatisfy(\.isASCIIDigit) else { return nil }
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix("1 ") {
                rfc5424 = true
                rest = rest.dropFirst(2)
            }
        }
        if let first = rest.first, first.isASCIIDigit, let (stamp, after, separator) = isoTime(rest) {
            rest = after
            if separator == " " && !rfc5424 && !looksLikeHostThenTag(rest) {
                // "2026-11-30 09:00:45 1pgobK-…": Exim's main log.
                var pid: Int?
                if rest.first == "[", let close = rest.firstIndex(of: "]"), let p = Int(rest[rest.index(after: rest.startIndex)..<close]) {
                    pid = p
                    rest = rest[rest.index(after: close)...].drop { $0 == " " }
                }
                return LineHeader(time: stamp.time, wholeSeconds: stamp.whole, host: nil, program: "exim", pid: pid, eximMainLog: true, message: rest)
            }
            if rfc5424 { return syslog5424(rest, stamp) }
            return tagged(rest, time: stamp.time, whole: stamp.whole, yearless: nil)
        }
        // RFC 3164: "Nov 30 09:00:45", "Nov 30 2026 09:00:45", "Nov 30 09:00:45 2026".
        guard let (civil, after) = bsdTime(rest) else { return nil }
        return tagged(after, time: civil.time, whole: civil.whole, yearless: civil.yearless)
    }

    /// `host program[pid]: message` after the time.
    private static func tagged(_ text: Substring, time: Timestamp, whole: Bool, yearless: (month: Int, day: Int, nanos: Int64)?) -> LineHeader? {
        var rest = text.drop { $0 == " " }
        guard let hostEnd = rest.firstIndex(of: " ") else { return nil }
        let host = String(rest[..<hostEnd])
        rest = rest[hostEnd...].drop { $0 == " " }
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        var tag = rest[..<colon]
        guard !tag.isEmpty, !tag.contains(" ") else { return nil }
        var pid: Int?
        if tag.last == "]", let open = tag.lastIndex(of: "[") {
            pid = Int(tag[tag.index(after: open)..<tag.index(before: tag.endIndex)])
            tag = tag[..<open]
        }
        let message = rest[rest.index(after: colon)...].dropFirst(rest[rest.index(after: colon)...].first == " " ? 1 : 0)
        return LineHeader(time: time, wholeSeconds: whole, yearless: yearless, host: host, program: String(tag), pid: pid, message: message)
    }

    /// RFC 5424 after the time: `host app procid msgid structured-data message`.
    private static func syslog5424(_ text: Substring, _ stamp: (time: Timestamp, whole: Bool)) -> LineHeader? {
        var fields: [Substring] = []
        var rest = text.drop { $0 == " " }
        for _ in 0..<4 {
            guard let end = rest.firstIndex(of: " ") else { return nil }
            fields.append(rest[..<end])
            rest = rest[end...].dropFirst()
        }
        // Structured data: "-" or one or more "[id k="v"…]" elements (a "]" inside quotes escaped).
        if rest.hasPrefix("-") {
            rest = rest.dropFirst()
        } else {
            while rest.first == "[" {
                var escaped = false, inQuotes = false
                var i = rest.startIndex
                var closed = false
                while i < rest.endIndex {
                    let c = rest[i]
                    if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inQuotes.toggle() } else if c == "]" && !inQuotes { closed = true; break }
                    i = rest.index(after: i)
                }
                guard closed else { return nil }
                rest = rest[rest.index(after: i)...]
            }
        }
        if rest.first == " " { rest = rest.dropFirst() }
        if rest.hasPrefix("\u{FEFF}") { rest = rest.dropFirst() }
        func nilDash(_ s: Substring) -> String? { s == "-" ? nil : String(s) }
        return LineHeader(time: stamp.time, wholeSeconds: stamp.whole, host: nilDash(fields[0]), program: nilDash(fields[1]), pid: Int(fields[2]), message: rest)
    }

    /// After an ISO time with a space: `host tag[pid]: …` (rsyslog) rather than Exim's `id <= …`.
    private static func looksLikeHostThenTag(_ text: Substring) -> Bool {
        let words = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard words.count >= 2, let tag = words.dropFirst().first else { return false }
        return tag.hasSuffix(":") && !tag.hasPrefix("H=") && !tag.hasPrefix("[")
    }

    /// The digits of a fraction of a second (after its `.` or `,`): nanoseconds (digits past the
    /// ninth ignored) and how many digits there were.
    static func fraction(_ s: inout Substring) -> (nanoseconds: Int64, digits: Int) {
        var nanos: Int64 = 0, scale: Int64 = 100_000_000, n = 0
        while let c = s.first, let v = c.asciiDigit {
            if n < 9 { nanos += Int64(v) * scale; scale /= 10 }
            n += 1
            s = s.dropFirst()
        }
        return (nanos, n)
    }

    /// `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM|±HHMM]`, then the rest after one space (or the
    /// comma of a CSV log). The separator between date and time is returned.
    static func isoTime(_ text: Substring) -> ((time: Timestamp, whole: Bool), Substring, Character)? {
        var s = text
        guard let year = digits(&s, 4), take(&s, "-"), let month = digits(&s, 2), take(&s, "-"), let day = digits(&s, 2),
            let sep = s.first, sep == "T" || sep == " " else { return nil }
        s = s.dropFirst()
        guard let hour = digits(&s, 2), take(&s, ":"), let minute = digits(&s, 2), take(&s, ":"), let second = digits(&s, 2) else { return nil }
        var nanos: Int64 = 0
        var whole = true
        if s.first == "." || s.first == "," && s.dropFirst().first?.isASCIIDigit == true && sep == "T" {
            s = s.dropFirst()
            let n: Int
            (nanos, n) = fraction(&s)
            guard n > 0 else { return nil }
            whole = false
        }
        var zone: Int64 = 0
        if s.first == "Z" {
            s = s.dropFirst()
        } else if let c = s.first, c == "+" || c == "-" {
            // Exim's "+0100" comes after a space; ISO's right after the time.
            var z = s.dropFirst()
            guard let zh = digits(&z, 2) else { return nil }
            _ = take(&z, ":")
            guard let zm = digits(&z, 2) else { return nil }
            zone = Int64(zh * 3600 + zm * 60) * (c == "-" ? -1 : 1)
            s = z
        } else if s.hasPrefix(" +") || s.hasPrefix(" -"), sep == " " {
            var z = s.dropFirst(2)
            let negative = s.dropFirst().first == "-"
            if let zh = digits(&z, 2), let zm = digits(&z, 2), z.first == " " {
                zone = Int64(zh * 3600 + zm * 60) * (negative ? -1 : 1)
                s = z
            }
        }
        guard let t = civilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second, nanos: nanos) else { return nil }
        guard s.first == " " || s.first == "," else { return nil }
        let separator: Character = sep
        return ((Timestamp(nanoseconds: t.nanoseconds &- zone * 1_000_000_000), whole), s.dropFirst(), separator)
    }

    /// RFC 3164 time, with the year before or after the clock when a writer adds it.
    private static func bsdTime(_ text: Substring) -> ((time: Timestamp, whole: Bool, yearless: (month: Int, day: Int, nanos: Int64)?), Substring)? {
        var s = text
        var year: Int?
        if let y = digits(&s, 4) {  // "2026 Nov 30 09:00:45"
            guard take(&s, " ") else { return nil }
            year = y
        }
        guard s.count >= 3 else { return nil }
        let name = s.prefix(3).lowercased()
        guard let m = months.firstIndex(of: name) else { return nil }
        s = s.dropFirst(3)
        guard take(&s, " ") else { return nil }
        if s.first == " " { s = s.dropFirst() }
        guard let day = digitsUpTo(&s, 2), take(&s, " ") else { return nil }
        if year == nil, s.count > 5, s.prefix(4).allSatisfy(\.isASCIIDigit), s.dropFirst(4).first == " " {  // "Nov 30 2026 09:00:45"
            year = digits(&s, 4)
            _ = take(&s, " ")
        }
        guard let hour = digits(&s, 2), take(&s, ":"), let minute = digits(&s, 2), take(&s, ":"), let second = digits(&s, 2) else { return nil }
        var nanos: Int64 = 0
        var whole = true
        if s.first == "." {
            s = s.dropFirst()
            let n: Int
            (nanos, n) = fraction(&s)
            whole = n == 0
        }
        if year == nil, s.count > 5, s.first == " ", s.dropFirst().prefix(4).allSatisfy(\.isASCIIDigit), s.dropFirst(5).first == " " {  // "… 09:00:45 2026 host"
            s = s.dropFirst()
            year = digits(&s, 4)
        }
        guard s.first == " " else { return nil }
        let dayNanos = Int64(hour * 3600 + minute * 60 + second) * 1_000_000_000 + nanos
        guard (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second), (1...31).contains(day) else { return nil }
        if let year {
            guard let t = civilTime(year: year, month: m + 1, day: day, hour: hour, minute: minute, second: second, nanos: nanos) else { return nil }
            return ((t, whole, nil), s)
        }
        // A placeholder year until the join knows the capture's (2000: a leap year, so 29 February fits).
        let t = civilTime(year: 2000, month: m + 1, day: day, hour: hour, minute: minute, second: second, nanos: nanos) ?? .zero
        return ((t, whole, (m + 1, day, dayNanos)), s)
    }

    static func civilTime(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, nanos: Int64) -> Timestamp? {
        guard (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour),
            (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let days = daysFromCivil(year, month, day)
        return Timestamp(seconds: days * 86_400 + Int64(hour * 3600 + minute * 60 + second), nanoseconds: nanos)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func digits(_ s: inout Substring, _ n: Int) -> Int? {
        guard s.count >= n else { return nil }
        var v = 0
        for c in s.prefix(n) {
            guard let d = c.asciiDigit else { return nil }
            v = v * 10 + d
        }
        s = s.dropFirst(n)
        return v
    }

    private static func digitsUpTo(_ s: inout Substring, _ n: Int) -> Int? {
        var v = 0, k = 0
        while k < n, let c = s.first, let d = c.asciiDigit {
            v = v * 10 + d
            k += 1
            s = s.dropFirst()
        }
        return k == 0 ? nil : v
    }

    private static func take(_ s: inout Substring, _ c: Character) -> Bool {
        guard s.first == c else { return false }
        s = s.dropFirst()
        return true
    }
}

extension Character {
    var isASCIIDigit: Bool { asciiDigit != nil }
    var asciiDigit: Int? {
        guard let v = asciiValue, v >= 48, v <= 57 else { return nil }
        return Int(v - 48)
    }
}
