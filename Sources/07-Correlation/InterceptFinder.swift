import SMTP
import Vocabulary
import Sessions

/// Finds the legs of intercepted connections among finished sessions and explains each pair.
///
/// Each finished session is judged as it arrives against the sessions held that share its content
/// — a Message-ID, a rare distinctive line (EHLO name, MAIL/RCPT line shared by at most
/// `rareSharing` sessions) or two commoner ones; lines shared by more than `maxSharing` sessions
/// are too common to point at anything. Each candidate is tried both ways round, and must fit
/// causality: commands reach the server leg after the client sent them, replies reach the client
/// after the server sent them — on one clock when both legs come from the same capture, on a
/// clock offset derived from the same constraints otherwise. Sessions are held for a window of
/// capture time (`window`, 30 minutes: legs from two captures whose clocks differ by more cannot
/// be paired) and at most `maxSessions` of them, so memory follows the rate of sessions, not the
/// length of the capture. With one capture (one clock) a session is let go sooner: once no
/// connection still open began before it ended (`horizon(_:)`), since legs overlap in time.
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
    /// Sessions held, by id, and their ids in the order they finished.
    private var legs: [Int: Leg] = [:]
    private var arrival: [Int] = []
    private var found: [Intercept] = []
    /// Connections seen twice (two capture points, one connection): not intercepts.
    private var sameConnections: [SameConnection] = []
    private var newest = Timestamp.zero
    private var flushAt = 4096
    /// Sessions held, by the distinctive lines and Message-IDs they carry (at most `maxSharing`).
    private var byKey: [LineKey: [Int]] = [:]
    private var byMessageID: [String: [Int]] = [:]
    /// Sessions held, by their client's initial sequence number and SYN timestamp (tagged: see
    /// `handshakeKeys`): one connection captured twice carries them in both copies, whatever lines
    /// it shares with other sessions.
    private var byHandshake: [UInt64: [Int]] = [:]
    /// Sessions each session was judged against (candidates), and the pairs that pair.
    private var neighbours: [Int: [Int]] = [:]
    private var valid: [Pair: Pairing] = [:]
    /// One copy of the line texts the held sessions share.
    private let pool = TextPool()
    /// Sessions held at most: past it the oldest go unpaired (a bound on memory whatever the rate).
    public var maxSessions = Limits.interceptSessions
    /// All sessions come from one capture, on one clock. Legs of one connection then overlap in
    /// time, so a session can go as soon as no session still open began before it ended.
    public var oneClock = false
    /// Every session still to come began at or after this (see `horizon(_:)`).
    private var horizonTime = Timestamp.zero
    /// Seconds by which one capture's timestamps may run backwards (two interfaces, two queues).
    static let clockDisorder = 2.0

    /// Sessions held for pairing now.
    public var sessionsHeld: Int { legs.count }

    public init(mode: Mode = .auto, window: Double = Limits.interceptWindow) {
        self.mode = mode
        self.window = window
    }

    var threshold: Int { mode == .always ? 1 : 6 }

    /// Takes a finished session and judges it at once against the sessions held that share its
    /// content (both are complete): a shared Message-ID or a line that few sessions share ties a
    /// pair on its own; lines that many share (a busy sender, a popular recipient) tie it only
    /// together; lines shared by more than `maxSharing` sessions tie nothing.
    public func add(_ session: Session, transactions: [Transaction]) {
        guard mode != .never, !session.timeline.isEmpty else { return }
        add(Leg(session: session, transactions: transactions, pool: pool))
    }

    /// Takes a finished session's leg (built from the session, or read back from a `leg` record),
    /// as `add(_:transactions:)` does. Its `id` must be unique among the legs given.
    public func add(_ leg: Leg) {
        guard mode != .never else { return }
        // A session with nothing distinctive cannot be shown to be anything's leg.
        guard leg.isPairable else { return }
        var ties: [Int: Int] = [:]
        ties.reserveCapacity(32)
        // Sessions that ended a window before this one began are held only until the next flush
        // (flushes come in batches): they cannot pair with it, and do not count as sharing its
        // lines — so how a line weighs does not depend on when the last flush was.
        let stale = leg.start.adding(seconds: -window)
        func tie(_ list: inout [Int], rare: Bool) {
            var sharing = 0
            for other in list where legs[other].map({ $0.end >= stale }) ?? false { sharing += 1 }
            guard sharing < Self.maxSharing else { return }
            let weight = rare || sharing < Self.rareSharing ? 2 : 1
            for other in list where legs[other].map({ $0.end >= stale }) ?? false { ties[other, default: 0] += weight }
            list.append(leg.id)
        }
        for id in leg.messageIDs { tie(&byMessageID[id, default: []], rare: true) }
        for k in Self.handshakeKeys(leg) { tie(&byHandshake[k, default: []], rare: true) }
        for k in leg.distinctiveLines { tie(&byKey[k, default: []], rare: false) }
        legs[leg.id] = leg
        arrival.append(leg.id)
        newest = max(newest, leg.end)
        for (other, weight) in ties.sorted(by: { $0.key < $1.key }) where weight >= 2 || mode == .always {
            guard let b = legs[other] else { continue }
            // Each pair is met once, here: lists, not sets.
            neighbours[leg.id, default: []].append(other)
            neighbours[other, default: []].append(leg.id)
            if let p = judge(b, leg) { valid[Pair(other, leg.id)] = p }
        }
        if legs.count >= flushAt { flush(final: false) }
    }

    /// The client's initial sequence number and SYN timestamp value, when the handshake was seen,
    /// tagged apart. A connection seen twice shares them (a device that rewrites sequence numbers
    /// leaves the timestamp), so its copies are judged against each other even when every line
    /// they carry is one many sessions share (a client that sends EHLO and QUIT only); anything
    /// else that shares one by chance is judged and found not to be the same connection.
    static func handshakeKeys(_ leg: Leg) -> [UInt64] {
        var keys: [UInt64] = []
        if let isn = leg.wire.isn[0] { keys.append(1 << 32 | UInt64(isn)) }
        if let ts = leg.wire.synTimestamp[0] { keys.append(2 << 32 | UInt64(ts)) }
        return keys
    }

    /// Every session still to come began at or after `time`. On one clock, sessions that ended
    /// before it (with a margin) cannot overlap any of them: they are paired now and let go, so
    /// memory follows the sessions open at once, not the length of the capture.
    public func horizon(_ time: Timestamp) {
        guard oneClock, mode != .never, time > horizonTime else { return }
        horizonTime = time
        if legs.count >= 256 { flush(final: false) }
    }

    /// Whether two sessions are the legs of one intercepted connection, and how.
    private func judge(_ a: Leg, _ b: Leg) -> Pairing? {
        if a.vantage == b.vantage, a.endpointClient == b.endpointClient, a.endpointServer == b.endpointServer { return nil }
        // One connection captured at two points looks like a perfect relay; its handshake says otherwise.
        if let same = SameConnection.recognize(a, b) {
            sameConnections.append(same)
            return nil
        }
        let sameClock = a.vantage.file == b.vantage.file
        if sameClock, !overlap(a, b) { return nil }
        // Tested once here for both readings, before the lines they share are worked out.
        if Pairer.carryDifferentMessages(a, b) { return nil }
        let shared = a.distinctiveLines.intersection(b.distinctiveLines)
        let options = [Pairer.evaluate(client: a, server: b, sameClock: sameClock, maxClockOffset: window, distinctive: shared),
                       Pairer.evaluate(client: b, server: a, sameClock: sameClock, maxClockOffset: window, distinctive: shared)].compactMap { $0 }
        // Both readings may fit within the tolerance: the one causality favours more wins.
        guard let best = options.max(by: { (rank($0), $0.margin) < (rank($1), $1.margin) }) else { return nil }
        if best.score >= threshold { return best }
        return mode == .auto ? pairedOnTiming(best) : nil
    }

    /// Longest time a relay may take for a pairing on timing alone.
    static let timingRelayLimit = 1.0

    /// A client that gives up after the EHLO reply (say, because STARTTLS was masked and it
    /// requires TLS) sends EHLO and QUIT only: too little content to tie two legs. They are paired
    /// on timing when that is unambiguous: the greeting shared by these two sessions alone, both
    /// legs on one client or one server address, every command on both legs relayed, and every
    /// line relayed within `timingRelayLimit` on a clock known that well.
    private func pairedOnTiming(_ p: Pairing) -> Pairing? {
        let client = p.client, server = p.server
        guard !client.commands.isEmpty, client.commands.count == server.commands.count,
            p.matches.count == client.commands.count, p.matches.allSatisfy({ $0.2 == .identical }),
            let greeting = client.commands.first(where: { $0.verb == .ehlo || $0.verb == .helo }),
            byKey[LineKey(greeting.text)]?.count == 2,
            client.endpointClient.address == server.endpointClient.address || client.endpointServer.address == server.endpointServer.address,
            p.clock.uncertainty <= Self.timingRelayLimit / 2
        else { return nil }
        var slowest = 0.0
        for (i, j, _) in p.matches {
            let c = client.commands[i], s = server.commands[j]
            let there = s.time.adding(seconds: -p.clock.seconds).seconds(since: c.time)
            var back = 0.0
            if let rc = c.reply, let rs = s.reply { back = rc.time.seconds(since: rs.time.adding(seconds: -p.clock.seconds)) }
            guard there <= Self.timingRelayLimit, back <= Self.timingRelayLimit else { return nil }
            slowest = max(slowest, there, back)
        }
        var q = p
        q.timingGreeting = LineKey(greeting.text)
        q.evidence.append("paired on timing: the only session with this greeting, every line relayed within \(Attribution.seconds(max(slowest, 0.0001)))")
        return q
    }

    /// Groups the pairs found into intercepts; keeps only those that involve a session leaving
    /// the window (the others are found again later, with more of their legs present), and drops
    /// those sessions.
    private func flush(final: Bool) {
        var cutoff = newest.adding(seconds: -window)
        if oneClock {
            // `overlap` allows a second between legs; the clock may run back a little.
            cutoff = max(cutoff, horizonTime.adding(seconds: -1 - Self.clockDisorder))
        }
        // Sessions leaving: those older than the window, and — when the window holds more
        // sessions than it may — the oldest beyond the bound, which later sessions cannot pair with.
        var leaving = Set(arrival.lazy.filter { self.legs[$0]!.end < cutoff })
        let excess = arrival.count - leaving.count - maxSessions / 2
        if arrival.count > maxSessions * 3 / 4, excess > 0 {
            leaving.formUnion(arrival.lazy.filter { !leaving.contains($0) }.prefix(excess))
        }
        var done = Set<Int>()
        for x in pairAll() {
            let ids = x.legIDs
            if final || ids.contains(where: leaving.contains) {
                found.append(x)
                done.formUnion(ids)
            }
        }
        // At the end the sessions held stay as they are: taking thousands of them apart one by
        // one is work for nothing when the finder is about to go.
        if final { return }
        forget(leaving.union(done))
        flushAt = min(maxSessions, max(4096, legs.count * 2))
    }

    /// Drops sessions and everything that refers to them.
    private func forget(_ gone: Set<Int>) {
        guard !gone.isEmpty else { return }
        for id in gone {
            guard let leg = legs.removeValue(forKey: id) else { continue }
            for k in leg.distinctiveLines {
                byKey[k]?.removeAll { $0 == id }
                if byKey[k]?.isEmpty == true { byKey[k] = nil }
            }
            for m in leg.messageIDs {
                byMessageID[m]?.removeAll { $0 == id }
                if byMessageID[m]?.isEmpty == true { byMessageID[m] = nil }
            }
            for k in Self.handshakeKeys(leg) {
                byHandshake[k]?.removeAll { $0 == id }
                if byHandshake[k]?.isEmpty == true { byHandshake[k] = nil }
            }
            for other in neighbours.removeValue(forKey: id) ?? [] { neighbours[other]?.removeAll { $0 == id } }
        }
        arrival.removeAll { gone.contains($0) }
        valid = valid.filter { !gone.contains($0.key.a) && !gone.contains($0.key.b) }
    }

    /// Connections found captured twice, in order of their start. Complete after `finish()`.
    public var connectionsSeenTwice: [SameConnection] {
        sameConnections.sorted { ($0.start, $0.nearClient) < ($1.start, $1.nearClient) }
    }

    /// Pairs the sessions seen; intercepts ordered by the client leg's start. Called once, at the end.
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
        // A pair on timing alone stands only while no other session held shares its greeting.
        var pairings = valid.values.filter { p in p.timingGreeting.map { byKey[$0]?.count == 2 } ?? true }
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
        for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
            var servers = group.sorted { $0.server.start < $1.server.start }.map(\.server)
            var p = group.max { rank($0) < rank($1) }!
            // A scanner that reconnects delivers on a second server connection: another session on
            // the server leg's capture that shares the client's content and fits, merged with the first.
            do {
                let extras = (neighbours[p.client.id] ?? []).compactMap { legs[$0] }.filter {
                    role[$0.id] == nil && $0.vantage.file == p.server.vantage.file
                        && $0.start >= p.client.start
                }.sorted { ($0.start, $0.id) < ($1.start, $1.id) }
                for extra in extras where !servers.contains(where: { $0.id == extra.id }) {
                    let merged = Leg(merging: servers + [extra])
                    if let q = Pairer.evaluate(client: p.client, server: merged, sameClock: p.clock.sameClock, maxClockOffset: window), q.score >= p.score {
                        servers.append(extra)
                        role[extra.id] = false
                    }
                }
            }
            if servers.count > 1 {
                let merged = Leg(merging: servers)
                let score = p.score
                p = Pairer.evaluate(client: p.client, server: merged, sameClock: p.clock.sameClock, maxClockOffset: window) ?? p
                p.score = max(score, p.score)
                p.evidence.append("\(servers.count) server legs for one client leg")
            }
            out.append(Attribution.intercept(p, serverLegs: servers))
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
