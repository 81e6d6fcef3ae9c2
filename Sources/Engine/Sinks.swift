import Correlation
import Findings
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
    /// Connections found captured at two points (not intercepts).
    public var connectionsSeenTwice = 0
    /// Finding id → how often, and the first one seen (for its message and session).
    public var findings: [String: (count: Int, first: Finding)] = [:]
    public init() {}

    mutating func add(_ f: Finding) {
        if let e = findings[f.id] {
            findings[f.id] = (e.count + 1, e.first)
        } else {
            findings[f.id] = (1, f)
        }
    }
}

/// Writes what the analysis finds, as the terminal timeline or as JSON lines: when a session ends,
/// its transactions and the session (with its findings); at the end, the intercepted connections
/// found among all sessions, and a summary.
public final class ReportSink: RecordSink {
    public enum Format: Sendable {
        case text(color: Bool)
        case json
    }

    private let out: OutputBuffer
    private let format: Format
    private let captureNames: [String]
    private let finder: InterceptFinder
    private var writer = JSONWriter()
    public private(set) var summary = RunSummary()
    /// Finished transactions of sessions still open.
    private var waiting: [Int: [Transaction]] = [:]

    /// Live capture: write each transaction as soon as it finishes, not with its session.
    private let streaming: Bool

    public init(out: OutputBuffer, format: Format, captureNames: [String], pairing: InterceptFinder.Mode = .auto, streaming: Bool = false) {
        self.out = out
        self.streaming = streaming
        self.format = format
        self.captureNames = captureNames
        self.finder = InterceptFinder(mode: pairing)
        // One capture is one clock: legs of one connection overlap in time.
        finder.oneClock = captureNames.count == 1
    }

    public func horizon(_ time: Timestamp) { finder.horizon(time) }

    public func transaction(_ t: Transaction, in session: Session) {
        waiting[session.id, default: []].append(t)
        summary.transactions += 1
        summary.outcomes[t.outcome, default: 0] += 1
        guard streaming else { return }
        switch format {
        case .json:
            writer.reset()
            JSONRecords.transaction(t, session: session.client, server: session.server, timeline: session.timeline, captureName: captureName(session), into: &writer)
            writer.withBytes { out.write($0) }
        case .text(let color):
            out.write(SessionText(color: color).render(session, transactions: [t], captureName: nil, part: .transaction(t.index)))
        }
    }

    public func session(_ s: Session) {
        let txns = waiting.removeValue(forKey: s.id) ?? []
        let findings = FindingsEngine.session(s, txns)
        summary.sessions += 1
        for a in s.anomalies { summary.anomalies[a.name.rawValue, default: 0] += 1 }
        for f in findings { summary.add(f) }
        write(s, txns, findings)
        finder.add(s, transactions: txns)
    }

    /// Decodes both copies of a connection seen twice together, when one lost bytes the other
    /// holds (set by the command line, which can read the files again): the session and its
    /// transactions, numbered as given.
    public var combine: ((SameConnection, Int) -> (Session, [Transaction])?)?
    /// The number the first combined session takes (after every session read).
    public var nextSessionID = 1

    private func write(_ s: Session, _ txns: [Transaction], _ findings: [Finding]) {
        switch format {
        case .json:
            writer.reset()
            let id = CommunityID.v1(s.client, s.server)
            for t in txns where !streaming {
                JSONRecords.transaction(t, session: s.client, server: s.server, timeline: s.timeline, captureName: captureName(s), findings: findings, communityID: id, into: &writer)
            }
            JSONRecords.session(s, captureName: captureName(s), interface: s.vantage.interface, findings: findings, communityID: id, into: &writer)
            writer.withBytes { out.write($0) }
        case .text(let color):
            var name = captureNames.count > 1 ? captureName(s) : nil
            if let c = s.combinedFrom { name = "sessions " + c.map(String.init).joined(separator: " + ") + " put together: both captures" }
            out.write(SessionText(color: color).render(s, transactions: txns, captureName: name, findings: findings, part: streaming ? .closing : .whole) + "\n")
        }
    }

    private func captureName(_ s: Session) -> String {
        captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : "?"
    }

    /// Writes the intercepted connections and the summary; call after the last session.
    public func finish(packets: Int) {
        let intercepts = finder.finish()
        writer.reset()
        for x in finder.connectionsSeenTwice {
            let f = FindingsEngine.sameConnection(x)
            summary.add(f)
            summary.connectionsSeenTwice += 1
            // One copy's gaps filled from the other: the whole dialogue, written before the record
            // that names it (not counted in the summary: its lines are the two copies' own).
            var combined: Int?
            if x.gapBytesInOtherCopy.contains(where: { $0 > 0 }), let (s, txns) = combine?(x, nextSessionID) {
                nextSessionID += 1
                combined = s.id
                // The records gathered so far go first: `write` starts the writer afresh.
                writer.withBytes { out.write($0) }
                write(s, txns, FindingsEngine.session(s, txns))
                writer.reset()
            }
            switch format {
            case .json: JSONRecords.sameConnection(x, combinedSession: combined, captureNames: captureNames, findings: [f], into: &writer)
            case .text(let color): out.write(InterceptText(color: color).render(x, combinedSession: combined, captureNames: captureNames) + "\n")
            }
        }
        for x in intercepts {
            let findings = FindingsEngine.intercept(x)
            for f in findings { summary.add(f) }
            summary.intercepts += 1
            switch format {
            case .json: JSONRecords.intercept(x, findings: findings, into: &writer)
            case .text(let color): out.write(InterceptText(color: color).render(x) + "\n")
            }
        }
        let order: [Outcome] = [.queued, .rejected, .reset, .abandoned, .incomplete]
        let findings = summary.findings.sorted {
            ($1.value.first.severity.rawValue, $1.value.count, $0.key) < ($0.value.first.severity.rawValue, $0.value.count, $1.key)
        }
        switch format {
        case .json:
            JSONRecords.summary(
                sessions: summary.sessions, transactions: summary.transactions,
                outcomes: order.compactMap { o in summary.outcomes[o].map { (o.rawValue, $0) } },
                intercepts: summary.intercepts,
                findings: findings.map { ($0.key, $0.value.first.severity.word, $0.value.count) }, packets: packets, into: &writer)
            writer.withBytes { out.write($0) }
        case .text(let color):
            out.write(textSummary(findings, order: order, packets: packets, color: color))
        }
    }

    private func wrapped(_ text: String, indent: Int, width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.count + word.count + 1 > width - indent, !line.isEmpty {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        let pad = String(repeating: " ", count: indent)
        return lines.map { pad + $0 }.joined(separator: "\n")
    }

    private func textSummary(_ findings: [(key: String, value: (count: Int, first: Finding))], order: [Outcome], packets: Int, color: Bool) -> String {
        let s = summary
        var line = "\(s.sessions) SMTP session\(s.sessions == 1 ? "" : "s") · \(s.transactions) transaction\(s.transactions == 1 ? "" : "s")"
        let parts = order.compactMap { o in s.outcomes[o].map { "\($0) \(o.rawValue)" } }
        if !parts.isEmpty { line += " (" + parts.joined(separator: ", ") + ")" }
        if s.intercepts > 0 { line += " · \(s.intercepts) intercepted connection\(s.intercepts == 1 ? "" : "s")" }
        if s.connectionsSeenTwice > 0 { line += " · \(s.connectionsSeenTwice) connection\(s.connectionsSeenTwice == 1 ? "" : "s") seen at two capture points" }
        line += " · \(packets) packet\(packets == 1 ? "" : "s") read\n"
        guard !findings.isEmpty else { return line }
        let text = SessionText(color: color)
        let width = findings.map(\.key.count).max() ?? 0
        for (id, v) in findings {
            let label = v.first.severity == .problem ? "problems" : v.first.severity == .warning ? "warnings" : "info    "
            let padded = id + String(repeating: " ", count: max(0, width - id.count))
            let count = String(v.count)
            var row = "\(label)  \(String(repeating: " ", count: max(0, 3 - count.count)))\(count)  " + text.tagless(v.first, padded)
            if v.first.severity == .problem {
                // Problems are what the summary is read for: their sentence in full.
                row += "  session \(v.first.session)\n" + wrapped(Printable.escape(v.first.message), indent: 16, width: 118)
            } else {
                row += "  session \(v.first.session)  " + Printable.short(Array(v.first.message.utf8), limit: 90)
            }
            line += row + "\n"
        }
        line += "explain any finding: smtpscope explain <id>\n"
        return line
    }
}
