/// Durations for people, written one way everywhere (session lengths, reply delays, relay delays,
/// gaps, silences): three significant digits in the largest unit that keeps the number at least
/// 1 — `123 µs`, `7.12 ms`, `21.2 ms`, `452 ms`, `1.50 s`, `10.4 s`, `452 s` — then minutes and
/// hours: `16 min 40 s`, `2 h 05 min`.
public enum DurationText {
    public static func format(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "? s" }
        if seconds < 0 { return "-" + format(-seconds) }
        let us = seconds * 1e6
        if us < 999.5 { return digits(us, 0) + " µs" }
        let ms = seconds * 1e3
        if ms < 999.5 { return significant(ms) + " ms" }
        if seconds < 999.5 { return significant(seconds) + " s" }
        let whole = Int(seconds.rounded())
        if whole < 36_000 {
            let m = whole / 60, s = whole % 60
            return m >= 60 ? "\(m / 60) h \(twoDigits(m % 60)) min" : "\(m) min \(twoDigits(s)) s"
        }
        let m = whole / 60
        return "\(m / 60) h \(twoDigits(m % 60)) min"
    }

    /// Three significant digits of a value from 1 to 999.5 (exclusive).
    static func significant(_ v: Double) -> String {
        if v < 9.995 { return digits(v, 2) }
        if v < 99.95 { return digits(v, 1) }
        return digits(v, 0)
    }

    /// `v` rounded to `decimals` decimal places, without Foundation.
    public static func digits(_ v: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let n = Int((abs(v) * scale).rounded())
        let whole = n / Int(scale), frac = n % Int(scale)
        if decimals == 0 { return (v < 0 && n != 0 ? "-" : "") + "\(whole)" }
        var f = String(frac)
        while f.count < decimals { f = "0" + f }
        return (v < 0 && n != 0 ? "-" : "") + "\(whole).\(f)"
    }

    private static func twoDigits(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
