import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A line on stderr while a large capture is read on a terminal: bytes read of the total,
/// packets, sessions and the rate, redrawn at most four times a second and erased at the end (and
/// before each write of the report to the same terminal). Never drawn when stderr is not a
/// terminal. The reading loop calls `tick` every `packetsPerTick` packets only: the clock is
/// looked at no more often than that.
public final class ProgressLine: Sendable {
    /// Files smaller than this are read too fast for a progress line to be of use.
    public static let minimumBytes = 32 << 20
    /// Packets between two looks at the clock.
    public static let packetsPerTick = 4_096
    /// Seconds between two redraws.
    static let interval = 0.25

    private struct State {
        var started = 0.0
        var lastDraw = 0.0
        var drawn = false
    }
    private let state: Mutex<State>
    private let total: Int?
    private let fd: Int32

    /// Whether to show one: only on a terminal, and for input that is large or of unknown size
    /// (standard input, a pipe).
    public static func wanted(stderrIsTerminal: Bool, totalBytes: Int?) -> Bool {
        guard stderrIsTerminal else { return false }
        guard let totalBytes else { return true }
        return totalBytes >= minimumBytes
    }

    /// The line's text, e.g. `reading 412 MB of 1.0 GB (40%) · 3 210 000 packets · 1 204
    /// sessions · 85 MB/s`.
    public static func text(bytes: Int, total: Int?, packets: Int, sessions: Int, seconds: Double) -> String {
        var line = "reading " + size(bytes)
        if let total, total > 0 { line += " of \(size(total)) (\(min(100, bytes * 100 / total))%)" }
        line += " · \(grouped(packets)) packet\(packets == 1 ? "" : "s") · \(grouped(sessions)) SMTP session\(sessions == 1 ? "" : "s")"
        if seconds > 0 { line += " · " + size(Int(Double(bytes) / seconds)) + "/s" }
        return line
    }

    /// `12 kB`, `412 MB`, `1.0 GB` (decimal units, as `ls -h --si`).
    static func size(_ n: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var v = Double(n)
        var u = 0
        while v >= 1000, u < units.count - 1 { v /= 1000; u += 1 }
        if u == 0 { return "\(n) B" }
        return v < 10 ? String(Int(v * 10)) .inserting(".", fromEnd: 1) + " " + units[u] : "\(Int(v)) \(units[u])"
    }

    /// `3 210 000`: thin groups of three, as the README's numbers.
    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += " " }
            out.append(c)
        }
        return out
    }

    public init(totalBytes: Int?, fd: Int32 = 2) {
        total = totalBytes
        self.fd = fd
        let now = Self.now()
        state = Mutex(State(started: now, lastDraw: now))
    }

    /// Redraws the line when the last draw is old enough (the first one a second after the start,
    /// so that a quick read shows none).
    public func tick(bytes: Int, packets: Int, sessions: Int) {
        let now = Self.now()
        state.withLock { s in
            guard now - s.lastDraw >= (s.drawn ? Self.interval : 1) else { return }
            s.lastDraw = now
            s.drawn = true
            emit("\r" + Self.text(bytes: bytes, total: total, packets: packets, sessions: sessions, seconds: now - s.started) + "\u{1b}[K")
        }
    }

    /// Erases the line (before the report is written to the terminal, and at the end); it comes
    /// back at the next tick.
    public func clear() {
        state.withLock { s in
            guard s.drawn else { return }
            s.drawn = false
            emit("\r\u{1b}[K")
        }
    }

    private func emit(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { _ = write(fd, $0.baseAddress!, $0.count) }
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

private extension String {
    func inserting(_ s: Character, fromEnd k: Int) -> String {
        var a = Array(self)
        a.insert(s, at: a.count - k)
        return String(a)
    }
}
