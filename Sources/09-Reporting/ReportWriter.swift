import Correlation
import Findings
import SMTP
import ServerLog
import Vocabulary
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
    /// Set when the run read `leg` records, not captures (`correlate`): `sessions` counts the
    /// legs read, and the text summary says so instead of transactions and packets.
    public var legsOnly = false
    /// Finding id → how often, and the first one seen (for its message and session).
    public var findings: [String: (count: Int, first: Finding)] = [:]
    /// What was selected to be shown (`--session`, `--transaction`: `N` or `N.M`); the counts
    /// above are then of what was shown, and `sessionsInRun` of all the run's sessions.
    public var selected: String?
    public var sessionsInRun = 0
    /// Finding id → every session it concerns (the client leg for intercepts), as ranges.
    public var findingSessions: [String: SessionRanges] = [:]
    /// The join with the mail server's log (`--maillog`), nil without one.
    public var serverLog: ServerLogJoin.Summary?
    public init() {}

    public mutating func add(_ f: Finding) {
        if let e = findings[f.id.rawValue] {
            findings[f.id.rawValue] = (e.count + 1, e.first)
        } else {
            findings[f.id.rawValue] = (1, f)
        }
        findingSessions[f.id.rawValue, default: SessionRanges()].insert(f.session)
    }
}

/// What the analysis found, ready to be written: each record is complete when it is handed over
/// (its findings judged), so writing it is rendering only.
public enum ReportRecord: Sendable {
    /// A transaction written as soon as it finished (live capture): before its session's findings.
    case transaction(Transaction, Session)
    /// A finished session, its transactions and its findings.
    case session(Session, [Transaction], [Finding])
    /// One connection seen at two capture points; `combined` the session decoded from both copies
    /// together, when one lost bytes the other holds.
    case sameConnection(SameConnection, Finding, combined: (Session, [Transaction], [Finding])?)
    /// An intercepted connection and its findings.
    case intercept(Intercept, [Finding])
    /// A finding about the whole run rather than one session or pair.
    case note(Finding)
    /// The last record of a run.
    case summary(RunSummary, packets: Int)
}

/// Writes report records as the terminal timeline or as JSON lines. Rendering only: what to say
/// was decided before (see the pipeline's judging stage).
public final class ReportWriter: ReportSink {
    public enum Format: Sendable {
        case text(color: Bool)
        case json
    }

    private let out: OutputBuffer
    private let format: Format
    private let captureNames: [String]
    private var writer = JSONWriter()
    /// Live capture: transactions were written as they finished; sessions are written as their end.
    private let streaming: Bool
    /// A session record is written as its transactions alone, without the session around them
    /// (`--transaction`: the record holds the one chosen).
    public var transactionsOnly = false
    /// Width, time column and extra headers of the text output.
    public var layout = TextLayout()

    public init(out: OutputBuffer, format: Format, captureNames: [String], streaming: Bool = false) {
        self.out = out
        self.format = format
        self.captureNames = captureNames
        self.streaming = streaming
    }

    public func write(_ record: ReportRecord) {
        switch record {
        case .transaction(let t, let session): transaction(t, session)
        case .session(let s, let txns, let findings): session(s, txns, findings)
        case .sameConnection(let x, let f, let combined):
            if let (s, txns, findings) = combined { session(s, txns, findings) }
            switch format {
            case .json: json { JSONRecords.sameConnection(x, combinedSession: combined?.0.id, captureNames: captureNames, findings: [f], into: &$0) }
            case .text(let color): out.write(InterceptText(color: color, layout: layout).render(x, combinedSession: combined?.0.id, captureNames: captureNames) + "\n")
            }
        case .intercept(let x, let findings):
            switch format {
            case .json: json { JSONRecords.intercept(x, captureNames: captureNames, findings: findings, into: &$0) }
            case .text(let color): out.write(InterceptText(color: color, layout: layout).render(x) + "\n")
            }
        case .note(let f):
            switch format {
            case .json: json { JSONRecords.runFinding(f, into: &$0) }
            case .text(let color): out.write(SessionText(color: color, layout: layout).tagless(f, f.id.rawValue) + "  " + Printable.escape(f.message) + "\n\n")
            }
        case .summary(let s, let packets): summary(s, packets: packets)
        }
    }

    /// One or more JSON records, written out at once.
    private func json(_ body: (inout JSONWriter) -> Void) {
        writer.reset()
        body(&writer)
        writer.withBytes { out.write($0) }
    }

    private func transaction(_ t: Transaction, _ session: Session) {
        switch format {
        case .json:
            json { JSONRecords.transaction(t, session: session.client, server: session.server, timeline: session.timeline, captureName: captureName(session), into: &$0) }
        case .text(let color):
            out.write(SessionText(color: color, layout: layout).render(session, transactions: [t], captureName: nil, part: .transaction(t.index)))
        }
    }

    private func session(_ s: Session, _ txns: [Transaction], _ findings: [Finding]) {
        switch format {
        case .json:
            let id = CommunityID.v1(s.client, s.server)
            json { w in
                for t in txns where !streaming {
                    JSONRecords.transaction(t, session: s.client, server: s.server, timeline: s.timeline, captureName: captureName(s), findings: findings, communityID: id, into: &w)
                }
                if !transactionsOnly {
                    JSONRecords.session(s, captureName: captureName(s), interface: s.vantage.interface, findings: findings, communityID: id, into: &w)
                    // What pairing needs, to pair the session without the capture (correlate). Not
                    // for a session put together from two copies: pairing never saw it.
                    if s.combinedFrom == nil {
                        let leg = Leg(session: s, transactions: txns)
                        if leg.isPairable { JSONRecords.leg(leg, captureName: captureName(s), into: &w) }
                    }
                }
            }
        case .text(let color) where transactionsOnly:
            for t in txns {
                out.write(SessionText(color: color).render(s, transactions: [t], captureName: captureNames.count > 1 ? captureName(s) : nil, findings: findings, part: .transaction(t.index)) + "\n")
            }
        case .text(let color):
            var name = captureNames.count > 1 ? captureName(s) : nil
            if let c = s.combinedFrom { name = "sessions " + c.map(String.init).joined(separator: " + ") + " put together: both captures" }
            out.write(SessionText(color: color, layout: layout).render(s, transactions: txns, captureName: name, findings: findings, part: streaming ? .closing : .whole) + "\n")
        }
    }

    private func captureName(_ s: Session) -> String {
        captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : "?"
    }

    private func summary(_ summary: RunSummary, packets: Int) {
        let order: [Outcome] = [.queued, .rejected, .reset, .abandoned, .incomplete]
        let findings = summary.findings.sorted {
            ($1.value.first.severity.rawValue, $1.value.count, $0.key) < ($0.value.first.severity.rawValue, $0.value.count, $1.key)
        }
        switch format {
        case .json:
            json {
                JSONRecords.summary(
                    sessions: summary.sessions, transactions: summary.transactions,
                    outcomes: order.compactMap { o in summary.outcomes[o].map { (o.rawValue, $0) } },
                    intercepts: summary.intercepts,
                    findings: findings.map { ($0.key, $0.value.first.severity.word, $0.value.count) }, packets: packets,
                    selected: summary.selected.map { ($0, summary.sessionsInRun) }, serverLog: summary.serverLog, into: &$0)
            }
        case .text(let color):
            out.write(textSummary(summary, findings, order: order, packets: packets, color: color))
        }
    }

    private func wrapped(_ text: String, indent: Int, width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if Columns.width(line) + Columns.width(String(word)) + 1 > width - indent, !line.isEmpty {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        let pad = String(repeating: " ", count: indent)
        return lines.map { pad + $0 }.joined(separator: "\n")
    }

    private func textSummary(_ s: RunSummary, _ findings: [(key: String, value: (count: Int, first: Finding))], order: [Outcome], packets: Int, color: Bool) -> String {
        var line = "\(s.sessions) SMTP session\(s.sessions == 1 ? "" : "s") · \(s.transactions) transaction\(s.transactions == 1 ? "" : "s")"
        let parts = order.compactMap { o in s.outcomes[o].map { "\($0) \(o.rawValue)" } }
        if !parts.isEmpty { line += " (" + parts.joined(separator: ", ") + ")" }
        if s.legsOnly { line = "\(s.sessions) leg\(s.sessions == 1 ? "" : "s") read" }
        if s.intercepts > 0 { line += " · \(s.intercepts) intercepted connection\(s.intercepts == 1 ? "" : "s")" }
        if s.connectionsSeenTwice > 0 { line += " · \(s.connectionsSeenTwice) connection\(s.connectionsSeenTwice == 1 ? "" : "s") seen at two capture points" }
        line += s.legsOnly ? "\n" : " · \(packets) packet\(packets == 1 ? "" : "s") read\n"
        if let selected = s.selected {
            let what = selected.contains(".") ? "transaction \(selected)" : "session \(selected)"
            line += "shown: \(what) of \(s.sessionsInRun) session\(s.sessionsInRun == 1 ? "" : "s") read\n"
        }
        if let l = s.serverLog {
            line += "server log: \(l.lines) line\(l.lines == 1 ? "" : "s") (" + (l.formats.isEmpty ? "no known format" : l.formats.map(\.rawValue).joined(separator: ", ")) + ")"
            if l.skipped > 0 { line += ", \(l.skipped) not read" + (l.firstSkipped.map { " (the first: file \($0.file + 1), line \($0.line))" } ?? "") }
            line += " · \(l.matchedLogSessions) of \(l.logSessions) connection\(l.logSessions == 1 ? "" : "s") matched"
            let keys = [LogJoinKey.queueID, .port, .address].compactMap { k in l.matchesByKey[k].map { "\($0) by \(k.rawValue)" } }
            if !keys.isEmpty { line += " (" + keys.joined(separator: ", ") + ")" }
            if l.matches > 0 { line += " · log clock " + (l.offset >= 0 ? "+" : "") + SessionText.fixed(l.offset, 3) + " s against the capture's (median of \(l.matches))" }
            if l.yearless { line += " · year taken from the capture" }
            line += "\n"
        }
        guard !findings.isEmpty else { return line }
        let text = SessionText(color: color, layout: layout)
        let width = findings.map(\.key.count).max() ?? 0
        // Every session a finding concerns, as ranges; with a width, the column is cut so that
        // the messages after it stay in one column.
        let sessionTexts = Dictionary(uniqueKeysWithValues: findings.map { f in
            (f.key, s.findingSessions[f.key].map { layout.fit($0.text, 32) } ?? "session \(f.value.first.session)")
        })
        let sessionColumn = sessionTexts.values.map(Columns.width).max() ?? 0
        for (id, v) in findings {
            let label = v.first.severity == .problem ? "problems" : v.first.severity == .warning ? "warnings" : "info    "
            let padded = id + String(repeating: " ", count: max(0, width - id.count))
            let count = String(v.count)
            var row = "\(label)  \(String(repeating: " ", count: max(0, 3 - count.count)))\(count)  " + text.tagless(v.first, padded)
            let sessions = sessionTexts[id] ?? ""
            if v.first.severity == .problem {
                // Problems are what the summary is read for: their sentence in full, wrapped to
                // the width (on one line when lines are written whole).
                row += "  " + sessions + "\n" + wrapped(Printable.escape(v.first.message), indent: 16, width: layout.width ?? Int.max / 2)
            } else {
                let prefix = Columns.width(row) + 2 + sessionColumn + 2
                row += "  " + Columns.pad(sessions, sessionColumn) + "  " + layout.fit(Printable.escape(v.first.message), (layout.width ?? 0) - prefix)
            }
            line += row + "\n"
        }
        line += "explain any finding: smtpscope explain <id>\n"
        return line
    }
}
