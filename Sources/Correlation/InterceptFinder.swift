import SMTP
import ScopeCore
import Sessions

/// Finds the legs of intercepted connections among finished sessions and explains each pair.
///
/// Sessions are kept in a window of capture time (`window`, 30 minutes: legs from two captures
/// whose clocks differ by more cannot be paired); when the window is full, the sessions that
/// left it are paired with everything in it and dropped, so memory follows the rate of sessions,
/// not the length of the capture. Candidate pairs
/// share a Message-ID, a rare distinctive line (EHLO name, MAIL/RCPT line shared by at most
/// `rareSharing` sessions) or two commoner ones; lines shared by more than `maxSharing` sessions
/// are too common to point at anything. Each candidate is tried both ways
/// round, and must fit causality: commands reach the server leg after the client sent them,
/// replies reach the client after the server sent them — on one clock when both legs come from
/// the same capture, on a clock offset derived from the same constraints otherwise.
public final class InterceptFinder {
    public enum Mode: String, Sendable, CaseIterable {
        /// Pair when the evidence is strong.
        case auto
        /// Pair whenever any consistent evidence ties two sessions.
        case always
        /// Never pair.
        case never
    }

    public let mode: Mode
    /// Seconds of capture time a finished session stays available for pairing.
    public let window: Double
    static let maxSharing = 64
    /// A line shared by at most this many sessions ties them on its own.
    static let rareSharing = 8
    private var legs: [Leg] = []
    private var found: [Intercept] = []
    private var newest = Timestamp.zero
    private var flushAt = 4096
    /// Pairs already judged (by session ids): those that pair, and those that do not.
    private var valid: [Pair: Pairing] = [:]
    private var rejected = Set<Pair>()
    /// Sessions held at most: past it the oldest go unpaired (a bound on memory whatever the rate).
    public var maxSessions = 20_000

    public init(mode: Mode = .auto, window: Double = 1800) {  // Pairer.maxClockOffset
        self.mode = mode
        self.window = window
    }

    var threshold: Int { mode == .always ? 1 : 6 }

    public func add(_ session: Session, transactions: [Transaction]) {
        guard mode != .never, !session.timeline.isEmpty else { return }
        let leg = Leg(session: session, transactions: transactions)
        // A session with nothing distinctive cannot be shown to be anything's leg.
        guard !leg.distinctiveLines.isEmpty || !leg.messageIDs.isEmpty else { return }
        legs.append(leg)
        newest = max(newest, session.end)
        if legs.count >= flushAt { flush(final: false) }
    }

    /// Pairs what is held; keeps only the intercepts that involve a session leaving the window
    /// (the others are found again later, with more of their legs present), and drops those sessions.
    private func flush(final: Bool) {
        let cutoff = newest.adding(seconds: -window)
        // Sessions leaving: those older than the window, and — when the window holds more
        // sessions than it may — the oldest beyond the bound, which later sessions cannot pair with.
        var leaving = Set(legs.lazy.filter { $0.end < cutoff }.map(\.id))
        let excess = legs.count - legs.count(where: { leaving.contains($0.id) }) - maxSessions / 2
        if legs.count > maxSessions * 3 / 4, excess > 0 {
            leaving.formUnion(legs.lazy.filter { !leaving.contains($0.id) }.prefix(excess).map(\.id))
        }
        var done = Set<Int>()
        for x in pairAll() {
            let ids = [x.clientLeg] + x.serverLegs
            if final || ids.contains(where: leaving.contains) {
                found.append(x)
                done.formUnion(ids)
            }
        }
        if final {
            legs = []
            return
        }
        legs.removeAll { done.contains($0.id) || leaving.contains($0.id) }
        let kept = Set(legs.map(\.id))
        valid = valid.filter { kept.contains($0.key.a) && kept.contains($0.key.b) }
        rejected = rejected.filter { kept.contains($0.a) && kept.contains($0.b) }
        flushAt = min(maxSessions, max(4096, legs.count * 2))
    }

    /// Pairs the sessions seen; intercepts ordered by the client leg's start.
    public func finish() -> [Intercept] {
        guard mode != .never else { return [] }
        flush(final: true)
        var out = found
        found = []
        Self.estimateDrift(&out)
        return out.sorted { ($0.start, $0.clientLeg) < ($1.start, $1.clientLeg) }
    }

    /// Every intercept among the sessions held.
    private func pairAll() -> [Intercept] {
        guard legs.count >= 2 else { return [] }
        // Candidates by shared distinctive content.
        var byKey: [[UInt8]: [Int]] = [:]
        var byMessageID: [String: [Int]] = [:]
        for (i, leg) in legs.enumerated() {
            for k in leg.distinctiveLines { byKey[k, default: []].append(i) }
            for id in leg.messageIDs { byMessageID[id, default: []].append(i) }
        }
        // How strongly each pair is tied: a shared Message-ID or a rare line ties it at once; lines
        // that many sessions share (a busy sender, a popular recipient) tie it only together.
        var ties: [Pair: Int] = [:]
        func tie(_ list: [Int], _ weight: Int) {
            guard list.count > 1, list.count <= Self.maxSharing else { return }
            for a in 0..<list.count {
                for b in (a + 1)..<list.count { ties[Pair(list[a], list[b]), default: 0] += weight }
            }
        }
        for (_, list) in byMessageID { tie(list, 2) }
        for (_, list) in byKey { tie(list, list.count <= Self.rareSharing ? 2 : 1) }
        var candidates: [Pair] = []
        var neighbours: [Int: Set<Int>] = [:]
        for (pair, weight) in ties where weight >= 2 || mode == .always {
            candidates.append(pair)
            neighbours[pair.a, default: []].insert(pair.b)
            neighbours[pair.b, default: []].insert(pair.a)
        }
        candidates.sort { ($0.a, $0.b) < ($1.a, $1.b) }
        var pairings: [Pairing] = []
        for c in candidates {
            let a = legs[c.a], b = legs[c.b]
            if a.vantage == b.vantage, a.endpointClient == b.endpointClient, a.endpointServer == b.endpointServer { continue }
            let sameClock = a.vantage.file == b.vantage.file
            if sameClock, !overlap(a, b) { continue }
            // Each pair is judged once, however many times the window is paired.
            let ids = Pair(a.id, b.id)
            if let p = valid[ids] {
                pairings.append(p)
                continue
            }
            guard rejected.insert(ids).inserted else { continue }
            var verdict: Pairing?
            defer {
                if let verdict {
                    valid[ids] = verdict
                    rejected.remove(ids)
                }
            }
            let options = [Pairer.evaluate(client: a, server: b, sameClock: sameClock), Pairer.evaluate(client: b, server: a, sameClock: sameClock)].compactMap { $0 }
            // Both readings may fit within the tolerance: the one causality favours more wins.
            guard let best = options.max(by: { (rank($0), $0.margin) < (rank($1), $1.margin) }) else { continue }
            if best.score >= threshold {
                pairings.append(best)
                verdict = best
            }
        }
        // Strongest first; a session is a client leg or a server leg, not both. One client leg may
        // have several server legs (a scanner that reconnects).
        pairings.sort { (rank($0), $1.client.id, $1.server.id) > (rank($1), $0.client.id, $0.server.id) }
        var role: [Int: Bool] = [:]  // session id -> is client leg
        var groups: [Int: [Pairing]] = [:]
        for p in pairings {
            guard role[p.client.id] != false, role[p.server.id] == nil else { continue }
            role[p.client.id] = true
            role[p.server.id] = false
            groups[p.client.id, default: []].append(p)
        }
        var out: [Intercept] = []
        let index = Dictionary(legs.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { a, _ in a })
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            var servers = group.sorted { $0.server.start < $1.server.start }.map(\.server)
            var p = group.max { rank($0) < rank($1) }!
            // A scanner that reconnects delivers on a second server connection: another session on
            // the server leg's capture that shares the client's content and fits, merged with the first.
            if let ci = index[p.client.id] {
                let extras = (neighbours[ci] ?? []).map { legs[$0] }.filter {
                    role[$0.id] == nil && $0.vantage.file == p.server.vantage.file
                        && $0.start >= p.client.start
                }.sorted { ($0.start, $0.id) < ($1.start, $1.id) }
                for extra in extras where !servers.contains(where: { $0.id == extra.id }) {
                    let merged = Leg(merging: servers + [extra])
                    if let q = Pairer.evaluate(client: p.client, server: merged, sameClock: p.clock.sameClock), q.score >= p.score {
                        servers.append(extra)
                        role[extra.id] = false
                    }
                }
            }
            if servers.count > 1 {
                let merged = Leg(merging: servers)
                let score = p.score
                p = Pairer.evaluate(client: p.client, server: merged, sameClock: p.clock.sameClock) ?? p
                p.score = max(score, p.score)
                p.evidence.append("\(servers.count) server legs for one client leg")
            }
            out.append(Attribution.intercept(p, serverLegIDs: servers.map(\.id),
                                             serverEndpoints: servers.map { ($0.endpointClient, $0.endpointServer) }))
        }
        return out
    }

    /// Two captures from two machines: the offset between their clocks changes over a long
    /// capture. A least-squares line through the offsets of every intercept between the same two
    /// captures gives the drift.
    static func estimateDrift(_ intercepts: inout [Intercept]) {
        let groups = Dictionary(grouping: intercepts.indices.filter { !intercepts[$0].clock.sameClock }) {
            [intercepts[$0].clientCapture.file, intercepts[$0].serverCapture.file]
        }
        for (_, members) in groups where members.count >= 2 {
            let t0 = members.map { intercepts[$0].start }.min()!
            let xs = members.map { intercepts[$0].start.seconds(since: t0) }
            let ys = members.map { intercepts[$0].clock.seconds }
            guard let span = xs.max(), span >= 1 else { continue }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            let sxy = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let sxx = xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
            guard sxx > 0 else { continue }
            let ppm = sxy / sxx * 1e6
            for i in members { intercepts[i].clock.driftPPM = ppm }
        }
    }

    private func rank(_ p: Pairing) -> Int { p.score * 1000 + p.matches.filter { $0.2 == .identical }.count }

    private func overlap(_ a: Leg, _ b: Leg) -> Bool {
        a.start.seconds(since: b.end) <= 1 && b.start.seconds(since: a.end) <= 1
    }

    struct Pair: Hashable {
        var a: Int, b: Int
        init(_ x: Int, _ y: Int) { a = min(x, y); b = max(x, y) }
    }
}

extension Leg {
    /// Several server legs seen as one dialogue, in time order (they share one clock).
    init(merging legs: [Leg]) {
        self = legs[0]
        for (k, other) in legs.enumerated().dropFirst() {
            let shift = k * 1_000_000
            for var c in other.commands {
                c.index += shift
                c.transaction = c.transaction.map { $0 + shift }
                commands.append(c)
            }
            for var m in other.messages {
                m.transaction += shift
                messages.append(m)
            }
        }
        commands.sort { $0.time < $1.time }
        index()
    }
}
