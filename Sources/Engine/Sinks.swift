import Correlation
import Reporting
import SMTP
import ScopeCore
import Sessions

/// Counts for the end-of-run summary.
public struct RunSummary: Sendable {
    public var sessions = 0
    public var transactions = 0
    public var outcomes: [Outcome: Int] = [:]
    public var anomalies: [String: Int] = [:]
    public var intercepts = 0
    public init() {}
}

/// Writes JSON lines: when a session ends, its transactions, then the session record.
public final class JSONSink: RecordSink {
    private let out: OutputBuffer
    private var writer = JSONWriter()
    private let captureNames: [String]
    public private(set) var summary = RunSummary()
    /// Transactions finished but whose session is still open: their timelines are in the session.
    private var waiting: [Int: [Transaction]] = [:]

    private let finder: InterceptFinder

    public init(out: OutputBuffer, captureNames: [String], pairing: InterceptFinder.Mode = .auto) {
        self.out = out
        self.captureNames = captureNames
        self.finder = InterceptFinder(mode: pairing)
    }

    /// Writes the intercepted connections found; call after the last session.
    public func finish() {
        writer.reset()
        for x in finder.finish() {
            JSONRecords.intercept(x, into: &writer)
            summary.intercepts += 1
        }
        out.write(writer.bytes)
    }

    public func transaction(_ t: Transaction, in session: SessionHeader) {
        waiting[session.id, default: []].append(t)
    }

    public func session(_ s: Session) {
        let txns = waiting.removeValue(forKey: s.id) ?? []
        writer.reset()
        for t in txns {
            JSONRecords.transaction(t, session: s.client, server: s.server, timeline: s.timeline, captureName: name(s), into: &writer)
            summary.transactions += 1
            summary.outcomes[t.outcome, default: 0] += 1
        }
        JSONRecords.session(s, captureName: name(s), interface: s.vantage.interface, into: &writer)
        out.write(writer.bytes)
        finder.add(s, transactions: txns)
        summary.sessions += 1
        for a in s.anomalies { summary.anomalies[a.name, default: 0] += 1 }
    }

    private func name(_ s: Session) -> String {
        captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : "?"
    }
}

/// Writes the terminal timeline, one block per session when it ends.
public final class TextSink: RecordSink {
    private let out: OutputBuffer
    private let renderer: SessionText
    private let captureNames: [String]
    public private(set) var summary = RunSummary()
    private var waiting: [Int: [Transaction]] = [:]

    private let finder: InterceptFinder
    private let ladder: InterceptText

    public init(out: OutputBuffer, color: Bool, captureNames: [String], pairing: InterceptFinder.Mode = .auto) {
        self.out = out
        self.renderer = SessionText(color: color)
        self.ladder = InterceptText(color: color)
        self.captureNames = captureNames
        self.finder = InterceptFinder(mode: pairing)
    }

    /// Writes the intercepted connections found; call after the last session.
    public func finish() {
        for x in finder.finish() {
            out.write(ladder.render(x) + "\n")
            summary.intercepts += 1
        }
    }

    public func transaction(_ t: Transaction, in session: SessionHeader) {
        waiting[session.id, default: []].append(t)
        summary.transactions += 1
        summary.outcomes[t.outcome, default: 0] += 1
    }

    public func session(_ s: Session) {
        let txns = waiting.removeValue(forKey: s.id) ?? []
        let name = captureNames.count > 1 && captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : nil
        out.write(renderer.render(s, transactions: txns, captureName: name) + "\n")
        finder.add(s, transactions: txns)
        summary.sessions += 1
        for a in s.anomalies { summary.anomalies[a.name, default: 0] += 1 }
    }

    /// The closing summary.
    public func writeSummary(packets: Int, files: Int) {
        var line = "\(summary.sessions) SMTP session\(summary.sessions == 1 ? "" : "s") · \(summary.transactions) transaction\(summary.transactions == 1 ? "" : "s")"
        let order: [Outcome] = [.queued, .rejected, .reset, .abandoned, .incomplete]
        let parts = order.compactMap { o in summary.outcomes[o].map { "\($0) \(o.rawValue)" } }
        if !parts.isEmpty { line += " (" + parts.joined(separator: ", ") + ")" }
        if summary.intercepts > 0 { line += " · \(summary.intercepts) intercepted connection\(summary.intercepts == 1 ? "" : "s")" }
        line += " · \(packets) packet\(packets == 1 ? "" : "s") read"
        out.write(line + "\n")
        if !summary.anomalies.isEmpty {
            let list = summary.anomalies.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key) ×\($0.value)" }
            out.write("anomalies: " + list.joined(separator: ", ") + "\n")
        }
    }
}
