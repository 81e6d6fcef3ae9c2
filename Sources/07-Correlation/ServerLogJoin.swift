import ServerLog
import Sessions
import Vocabulary

/// Joins captured sessions with the connections of a mail server's log (`read --maillog`): by a
/// queue id the capture saw in a `250 … queued as` reply, by the client's address and port, or by
/// its address and overlapping times. The log host's clock is not the capture's: the offset is
/// estimated from the matches (the median of log start minus capture start) and taken away from
/// the log's times, so that its lines fall into the timeline. Sessions arrive one at a time, so
/// the offset used for a session is the estimate from the matches before it and its own.
public final class ServerLogJoin {
    public private(set) var log: ServerLog
    private var resolved = false
    private var byAddress: [IPAddress: [Int]] = [:]
    private var byQueueID: [String: Int] = [:]
    private var byMessageID: [String: [String]] = [:]
    /// Log start minus capture start, one per match.
    private var deltas: [Double] = []
    public private(set) var matchesByKey: [LogJoinKey: Int] = [:]
    public private(set) var matchedLogSessions = Set<Int>()
    /// Captured sessions looked at.
    public private(set) var sessionsSeen = 0

    /// Times without a year, and an address-only match, tolerate this much (seconds) around the
    /// captured session: syslog writes whole seconds, and the log writes a line after the event.
    static let slack = 2.0
    /// A port match must start within this much (seconds) of the captured session, clock offset
    /// taken away (ports are reused, over hours).
    static let portWindow = 3600.0
    /// A queue id match, within a day.
    static let queueIDWindow = 86_400.0

    public init(_ log: ServerLog) { self.log = log }

    /// Log clock minus capture clock, in seconds (0 before any match).
    public var offset: Double {
        guard !deltas.isEmpty else { return 0 }
        let sorted = deltas.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
    public var matches: Int { deltas.count }

    private func prepare(near reference: Timestamp) {
        guard !resolved else { return }
        resolved = true
        log.resolveYears(near: reference)
        for (k, s) in log.sessions.enumerated() {
            if let a = s.client.address { byAddress[a, default: []].append(k) }
            for q in s.queueIDs { byQueueID[q] = k }
        }
        // By start, so that a busy client's connections are searched only around the session.
        for (a, list) in byAddress { byAddress[a] = list.sorted { log.sessions[$0].start < log.sessions[$1].start } }
        for (q, m) in log.messages {
            if let id = m.messageID { byMessageID[Self.bare(id), default: []].append(q) }
        }
    }

    /// Sets `s.serverLog` and each transaction's `serverLog` (empty when nothing matched).
    public func join(_ s: inout Session, _ txns: inout [Transaction]) {
        prepare(near: s.start)
        sessionsSeen += 1
        let queueIDs = Set(txns.compactMap(\.queueID))
        let off = offset
        var candidates = nearby(s.client.address, from: s.start.adding(seconds: off - Self.portWindow), to: s.end.adding(seconds: off + Self.portWindow))
        for q in queueIDs { if let k = byQueueID[q], !candidates.contains(k) { candidates.append(k) } }
        var best: (k: Int, key: LogJoinKey, distance: Double)?
        for k in candidates {
            let ls = log.sessions[k]
            let start = ls.start.seconds(since: s.start) - off
            let end = ls.end.seconds(since: s.start) - off
            let length = s.end.seconds(since: s.start)
            let key: LogJoinKey
            if !queueIDs.isDisjoint(with: ls.queueIDs), abs(start) < Self.queueIDWindow {
                key = .queueID
            } else if ls.client.address == s.client.address, let p = ls.client.port, p == s.client.port, abs(start) < Self.portWindow {
                key = .port
            } else if ls.client.address == s.client.address, start <= length + Self.slack, end >= -Self.slack {
                key = .address
            } else {
                continue
            }
            let distance = abs(start)
            if let b = best, (rank(b.key), b.distance) <= (rank(key), distance) { continue }
            best = (k, key, distance)
        }
        guard let best else {
            s.serverLog = SessionLog(offset: off)
            for i in txns.indices { txns[i].serverLog = TransactionLog() }
            return
        }
        let ls = log.sessions[best.k]
        deltas.append(ls.start.seconds(since: s.start))
        matchesByKey[best.key, default: 0] += 1
        matchedLogSessions.insert(best.k)
        let used = offset
        s.serverLog = SessionLog(session: ls, key: best.key, offset: used, lines: lines(ls.lines, offset: used))
        // Queue ids first: they name their message outright; Message-IDs and envelopes then
        // choose among the messages left.
        var claimed = Set(txns.compactMap { t in t.queueID.flatMap { log.messages[$0] != nil ? $0 : nil } })
        for i in txns.indices { txns[i].serverLog = transaction(txns[i], ls, offset: used, claimed: &claimed, session: s) }
    }

    /// The client's log connections that start between `from` and `to` (log clock).
    private func nearby(_ address: IPAddress, from: Timestamp, to: Timestamp) -> [Int] {
        guard let list = byAddress[address] else { return [] }
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if log.sessions[list[mid]].start < from { lo = mid + 1 } else { hi = mid }
        }
        var out: [Int] = []
        var i = lo
        while i < list.count, log.sessions[list[i]].start <= to {
            out.append(list[i])
            i += 1
        }
        return out
    }

    private func rank(_ k: LogJoinKey) -> Int {
        switch k {
        case .queueID: return 0
        case .port: return 1
        case .address: return 2
        }
    }

    /// The lines at these positions, tracing left out, on the capture's clock.
    private func lines(_ positions: [Int], offset: Double) -> [LogLine] {
        positions.compactMap { p in
            var l = log.lines[p]
            if case .debug = l.event { return nil }
            l.corrected = l.time.adding(seconds: -offset)
            return l
        }
    }

    private func transaction(_ t: Transaction, _ ls: LogSession, offset: Double, claimed: inout Set<String>, session s: Session) -> TransactionLog {
        var found: (key: String, id: String)?
        if let q = t.queueID, log.messages[q] != nil {
            found = ("queue-id", q)
        } else if let mid = t.headers?.messageID.map(Self.bare), !mid.isEmpty, let ids = byMessageID[mid] {
            // On this connection first; a scanner that retries may deliver on another one.
            if let q = ids.first(where: { ls.queueIDs.contains($0) && !claimed.contains($0) }) ?? ids.first(where: { !claimed.contains($0) }) {
                found = ("message-id", q)
            }
        }
        // By envelope only a transaction that sent its message: a reset one has no message to find.
        if found == nil, let from = t.mailFrom, t.size != nil {
            let rcpts = Set(t.rcptTo.map { $0.lowercased() })
            for q in ls.queueIDs where !claimed.contains(q) {
                guard let m = log.messages[q], m.from?.lowercased() == from.lowercased() else { continue }
                let to = Set(m.deliveries.map { $0.to.lowercased() })
                if to.isEmpty || rcpts.isEmpty || !to.isDisjoint(with: rcpts) {
                    found = ("envelope", q)
                    break
                }
            }
        }
        var positions: [Int] = []
        var message: LogMessage?
        if let (_, q) = found, let m = log.messages[q] {
            claimed.insert(q)
            message = m
            // Delivery times on the capture's clock, as the lines.
            for d in m.deliveries.indices { message?.deliveries[d].time = m.deliveries[d].time.adding(seconds: -offset) }
            positions = m.lines
        }
        // Refusals of this transaction's recipients (before any queue id, Postfix's NOQUEUE).
        let sent = Set(t.rcptSent.map { $0.lowercased() })
        for p in ls.rejects {
            let l = log.lines[p]
            guard case .reject(_, _, _, _, _, let to) = l.event, let to, sent.contains(to.lowercased()) else { continue }
            let at = l.time.adding(seconds: -offset)
            guard at.seconds(since: t.start) >= -Self.slack, t.end.seconds(since: at) >= -Self.slack else { continue }
            if !positions.contains(p) { positions.append(p) }
        }
        positions.sort()
        return TransactionLog(key: found?.key, message: message, lines: lines(positions, offset: offset))
    }

    /// A Message-ID without its angle brackets and spaces, for comparing.
    static func bare(_ id: String) -> String {
        var t = Substring(id)
        while let f = t.first, f == "<" || f == " " { t = t.dropFirst() }
        while let l = t.last, l == ">" || l == " " { t = t.dropLast() }
        return String(t)
    }

    /// What the run's summary says of the join.
    public var summary: Summary {
        Summary(lines: log.lines.count, skipped: log.skipped, otherPrograms: log.otherPrograms, firstSkipped: log.firstSkipped,
                logSessions: log.sessions.count, matchedLogSessions: matchedLogSessions.count, matchesByKey: matchesByKey,
                offset: offset, matches: deltas.count, formats: log.formats, yearless: log.yearless)
    }

    /// The join's numbers for the end of the run.
    public struct Summary: Sendable {
        /// Log lines read (of the mail server's programs), skipped (no known form) and of other programs.
        public var lines: Int
        public var skipped: Int
        public var otherPrograms: Int
        public var firstSkipped: (file: Int, line: Int)?
        /// Connections in the log, and how many of them matched a captured session.
        public var logSessions: Int
        public var matchedLogSessions: Int
        /// Captured sessions matched, by what matched them.
        public var matchesByKey: [LogJoinKey: Int]
        /// Log clock minus capture clock (seconds), the median over `matches`.
        public var offset: Double
        public var matches: Int
        public var formats: [LogFormat]
        /// Some lines had no year and took the capture's.
        public var yearless: Bool
    }
}
