#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Vocabulary

/// How the text output is laid out, the same for every record of a run (set from the command
/// line: `--width`, `--wide`, `--time`, `--header`).
public struct TextLayout: Sendable {
    /// Columns every timeline line is fitted in, values cut with `…`; nil writes every line whole
    /// (the default when standard output is not a terminal, and with `--wide`).
    public var width: Int?
    /// How the time column of the timeline and the ladder is written.
    public var time: TimeStyle = .session
    /// Extra message headers (`--header`) shown under the message line, as the user spelled them.
    public var headers: [String] = []
    /// The first packet of the run, for `--time relative`.
    public var captureStart: CaptureStart?
    public init() {}

    /// Narrowest width accepted: the fixed parts of a line and a little of each value.
    public static let minimumWidth = 60

    /// `text` escaped; with a width, at most `limit` columns of it (cut with `…`).
    func value<C: Collection>(_ bytes: C, limit: Int) -> String where C.Element == UInt8 {
        let s = Printable.escape(bytes)
        return width == nil ? s : Columns.fit(s, limit)
    }

    /// `text` cut to `columns` when a width is set.
    func fit(_ text: String, _ columns: Int) -> String {
        width == nil ? text : Columns.fit(text, max(1, columns))
    }
}

/// The timeline's time column.
public enum TimeStyle: String, Sendable, CaseIterable {
    /// Seconds since the session began, `+0.002` (the default).
    case session
    /// Seconds since the first packet of the capture, `12.345` — what `tshark -t r` and
    /// Wireshark's "Seconds Since First Captured Packet" show.
    case relative
    /// Time of day in UTC, `09:14:07.120` (the date is in the session's first line).
    case utc
    /// Time of day in the local time zone (TZ), `10:14:07.120`; the session's first line says
    /// the date and the zone.
    case local

    /// Columns the time takes in a timeline line, padding included.
    var column: Int { self == .utc || self == .local ? 14 : 9 }

    /// The time column's text for `t`, in a session (or ladder) that began at `start`.
    func stamp(_ t: Timestamp, start: Timestamp, captureStart: Timestamp?) -> String {
        switch self {
        case .session: return "+" + DurationText.digits(t.seconds(since: start), 3)
        case .relative: return DurationText.digits(t.seconds(since: captureStart ?? start), 3)
        case .utc: return ClockText.timeOfDay(t, local: false).text
        case .local: return ClockText.timeOfDay(t, local: true).text
        }
    }

    /// When a session began, for its first line: UTC, or local time with the zone.
    func headline(_ t: Timestamp) -> String {
        switch self {
        case .session, .relative, .utc: return t.humanUTC
        case .local:
            let c = ClockText.timeOfDay(t, local: true)
            return c.date + " " + c.text + " " + c.zone
        }
    }
}

/// Clock times in UTC or in the local zone (the C library's, from TZ).
enum ClockText {
    static func timeOfDay(_ t: Timestamp, local: Bool) -> (date: String, text: String, zone: String) {
        let (secs, frac) = t.secondsAndFraction
        var clock = time_t(secs)
        var parts = tm()
        if local {
            tzset()
            localtime_r(&clock, &parts)
        } else {
            gmtime_r(&clock, &parts)
        }
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int(frac / 1_000_000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        let date = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
        let text = "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)"
        let zone = local ? (parts.tm_zone.map { String(cString: $0) } ?? "local") : "UTC"
        return (date, text, zone)
    }
}
