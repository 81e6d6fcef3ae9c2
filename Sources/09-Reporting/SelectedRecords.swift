import Correlation
import Findings
import Sessions

/// One session, or one transaction of it, chosen to be shown (`--session N`, `--transaction N.M`).
/// Numbers are those the whole run gives (the same files, filter and time window).
public struct ShownSelection: Sendable, Equatable {
    public var session: Int
    /// The transaction's number within the session (1-based, as printed); nil shows the session.
    public var transaction: Int?

    public init(session: Int, transaction: Int? = nil) {
        self.session = session
        self.transaction = transaction
    }

    /// `N` or `N.M`, as given on the command line and written in the summary.
    public var text: String { transaction.map { "\(session).\($0)" } ?? "\(session)" }
}

/// Passes on only the records of the selected session (or transaction) to `next`, and a summary
/// that counts what was shown and names what was selected. The records of a pair (a connection
/// seen twice, an intercepted one) and run notes are shown when they name the session; with a
/// transaction chosen, only that transaction is.
public final class SelectedRecords: ReportSink {
    private let selection: ShownSelection
    private let next: any ReportSink
    private var shown = RunSummary()
    /// The number of sessions in the run (the highest id passed by), for the summary.
    private var sessionsInRun = 0
    /// The selected session or transaction was found.
    public private(set) var found = false

    public init(_ selection: ShownSelection, next: any ReportSink) {
        self.selection = selection
        self.next = next
    }

    public func write(_ record: ReportRecord) {
        switch record {
        case .transaction(let t, let s):
            guard s.id == selection.session, selection.transaction.map({ $0 == t.index }) ?? true else { return }
            next.write(record)
        case .session(let s, let txns, let findings):
            sessionsInRun = max(sessionsInRun, s.id)
            if let picked = pick(s, txns, findings) {
                count(s, picked.1, picked.2)
                next.write(.session(s, picked.1, picked.2))
            }
        case .sameConnection(let x, let f, let combined):
            let picked = combined.flatMap { pick($0.0, $0.1, $0.2) }
            if let picked, let c = combined { count(c.0, picked.1, picked.2) }
            if selection.transaction != nil {
                // Only the transaction: not the record of the pair around it.
                if let picked, let c = combined { next.write(.session(c.0, picked.1, picked.2)) }
                return
            }
            guard picked != nil || [x.nearClient, x.nearServer].contains(selection.session) else { return }
            shown.add(f)
            shown.connectionsSeenTwice += 1
            next.write(.sameConnection(x, f, combined: picked))
        case .intercept(let x, let findings):
            guard selection.transaction == nil, ([x.clientLeg] + x.serverLegs).contains(selection.session) else { return }
            for f in findings { shown.add(f) }
            shown.intercepts += 1
            next.write(record)
        case .note(let f):
            guard selection.transaction == nil, f.session == selection.session else { return }
            shown.add(f)
            next.write(record)
        case .summary(_, let packets):
            // The run's counts give way to those of what was shown; the packets are all read.
            shown.selected = selection.text
            shown.sessionsInRun = sessionsInRun
            next.write(.summary(shown, packets: packets))
        }
    }

    public func finish() -> [String] { next.finish() }

    /// The session's part that is shown: all of it, or the chosen transaction (with the findings
    /// about it); nil when it is not the one selected.
    private func pick(_ s: Session, _ txns: [Transaction], _ findings: [Finding]) -> (Session, [Transaction], [Finding])? {
        guard s.id == selection.session else { return nil }
        guard let k = selection.transaction else {
            found = true
            return (s, txns, findings)
        }
        guard let t = txns.first(where: { $0.index == k }) else { return nil }
        found = true
        return (s, [t], findings.filter { $0.transaction == k })
    }

    private func count(_ s: Session, _ txns: [Transaction], _ findings: [Finding]) {
        shown.sessions += 1
        shown.transactions += txns.count
        for t in txns { shown.outcomes[t.outcome, default: 0] += 1 }
        for a in s.anomalies { shown.anomalies[a.name.rawValue, default: 0] += 1 }
        for f in findings { shown.add(f) }
    }
}
