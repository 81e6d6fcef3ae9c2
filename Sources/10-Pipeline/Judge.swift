import Correlation
import Findings
import Reporting
import ServerLog
import Vocabulary
import Sessions

/// The judging stage: findings for each finished session, and the pairing of sessions into
/// intercepted connections and connections seen twice. Finished transactions and sessions in,
/// report records out (to `output`, in the order they are complete), then the pairs and the
/// summary at `finish`.
public final class Judge: RecordSink {
    private let output: (ReportRecord) -> Void
    private let finder: InterceptFinder
    public private(set) var summary = RunSummary()
    /// Finished transactions of sessions still open.
    private var waiting: [Int: [Transaction]] = [:]
    /// Live capture: each transaction is passed on as soon as it finishes, not with its session.
    private let streaming: Bool

    /// Decodes both copies of a connection seen twice together, when one lost bytes the other
    /// holds (set by the command line, which can read the files again): the session and its
    /// transactions, numbered as given.
    public var combine: (([SameConnection], Int) -> [(Session, [Transaction])?])?
    /// The number the first combined session takes (after every session read).
    public var nextSessionID = 1
    /// The client randoms of the key logs given (`--keylog`), when any were: a key log that
    /// matches none of the capture's handshakes is a finding of its own.
    public var keyLogClientRandoms: Set<[UInt8]>?
    /// The first session whose TLS handshake had no keys, and whether any handshake had them.
    private var firstUnkeyedTLS: (id: Int, start: Timestamp)?
    private var anyKeyedTLS = false
    /// The mail server's log (`--maillog`): each session is joined with it before its findings.
    public var serverLog: ServerLogJoin?

    /// `captures`: how many capture files the sessions come from (one is one clock).
    public init(captures: Int, pairing: InterceptFinder.Mode = .auto, streaming: Bool = false, output: @escaping (ReportRecord) -> Void) {
        self.output = output
        self.streaming = streaming
        finder = InterceptFinder(mode: pairing)
        // One capture is one clock: legs of one connection overlap in time.
        finder.oneClock = captures == 1
    }

    public func horizon(_ time: Timestamp) { finder.horizon(time) }

    public func transaction(_ t: Transaction, in session: Session) {
        waiting[session.id, default: []].append(t)
        summary.transactions += 1
        summary.outcomes[t.outcome, default: 0] += 1
        if streaming { output(.transaction(t, session)) }
    }

    public func session(_ s: Session) {
        var s = s
        var txns = waiting.removeValue(forKey: s.id) ?? []
        serverLog?.join(&s, &txns)
        let findings = FindingsEngine.session(s, txns)
        if let random = s.tls?.clientRandom {
            if keyLogClientRandoms?.contains(random) == true { anyKeyedTLS = true } else if firstUnkeyedTLS == nil { firstUnkeyedTLS = (s.id, s.start) }
        }
        summary.sessions += 1
        for a in s.anomalies { summary.anomalies[a.name.rawValue, default: 0] += 1 }
        for f in findings { summary.add(f) }
        output(.session(s, txns, findings))
        finder.add(s, transactions: txns)
    }

    /// The pairs found among all sessions, and the summary; call after the last session.
    public func finish(packets: Int) {
        let intercepts = finder.finish()
        let seenTwice = finder.connectionsSeenTwice
        // One copy's gaps filled from the other: the whole dialogue, written before the record
        // that names it (not counted in the summary: its lines are the two copies' own). All of
        // them decoded in one more reading of the files.
        let gapped = seenTwice.indices.filter { seenTwice[$0].gapBytesInOtherCopy.contains { $0 > 0 } }
        var combined: [Int: (Session, [Transaction], [Finding])] = [:]
        if !gapped.isEmpty, let combine {
            for (k, result) in zip(gapped, combine(gapped.map { seenTwice[$0] }, nextSessionID)) {
                guard let (s, txns) = result else { continue }
                combined[k] = (s, txns, FindingsEngine.session(s, txns))
            }
        }
        for (k, x) in seenTwice.enumerated() {
            let f = FindingsEngine.sameConnection(x)
            summary.add(f)
            summary.connectionsSeenTwice += 1
            output(.sameConnection(x, f, combined: combined[k]))
        }
        for x in intercepts {
            let findings = FindingsEngine.intercept(x)
            for f in findings { summary.add(f) }
            summary.intercepts += 1
            output(.intercept(x, findings))
        }
        if let randoms = keyLogClientRandoms, !randoms.isEmpty, !anyKeyedTLS, let s = firstUnkeyedTLS {
            let f = FindingsEngine.keyLogMatchesNoHandshake(session: s.id, at: s.start, keys: randoms.count)
            summary.add(f)
            output(.note(f))
        }
        summary.serverLog = serverLog?.summary
        output(.summary(summary, packets: packets))
    }
}
