import SMTP
import Vocabulary
import Sessions

/// How strongly two legs are related, and on which clock relation.
struct Pairing {
    var client: Leg
    var server: Leg
    var score: Int
    var evidence: [String]
    var clock: Intercept.ClockOffset
    /// Aligned commands: (client-leg position, server-leg position, similarity).
    var matches: [(Int, Int, Similarity)]
    /// How much room causality leaves (seconds): larger is a more convincing reading.
    var margin: Double
    /// Set when the pair rests on timing alone: the greeting that must stay unique to the two legs.
    var timingGreeting: LineKey? = nil
}

/// How alike two command lines are.
enum Similarity: Int, Comparable {
    case none = 0
    /// Same verb, other bytes changed.
    case sameVerb = 1
    /// Overwritten in place with X or * (inspecting firewall).
    case masked = 2
    case identical = 3

    static func < (a: Similarity, b: Similarity) -> Bool { a.rawValue < b.rawValue }

    /// `verbA`, `verbB`: `Verb.knownCode` (-1 for a verb that is not known).
    init(_ textA: [UInt8], _ verbA: Int, _ textB: [UInt8], _ verbB: Int) {
        // Lines of different lengths are neither identical nor masked copies.
        if textA.count == textB.count {
            if textA == textB {
                self = .identical
                return
            }
            if textB.isMasked(version: textA) || textA.isMasked(version: textB) {
                self = .masked
                return
            }
        }
        self = verbA == verbB && verbA >= 0 ? .sameVerb : .none
    }
}

enum Pairer {
    /// The largest dialogue aligned line by line; longer ones are cut (the evidence is in the start).
    static let maxLines = Limits.alignedLines

    /// Aligns client-leg commands with server-leg commands: an order-preserving alignment that
    /// maximises similarity and, among equals, matches each client command with the earliest
    /// possible server command (a relay passes lines on at once; replays come later).
    static func align(_ a: [Leg.Line], _ b: [Leg.Line]) -> [(Int, Int, Similarity)] {
        let n = min(a.count, maxLines), m = min(b.count, maxLines)
        guard n > 0, m > 0 else { return [] }
        var dp = [Int](repeating: 0, count: (n + 1) * (m + 1))
        func at(_ i: Int, _ j: Int) -> Int { i * (m + 1) + j }
        var sim = [Similarity](repeating: .none, count: n * m)
        // The texts and verbs taken out once: the table compares every line with every line.
        var textsA: [[UInt8]] = [], textsB: [[UInt8]] = []
        var verbsA: [Int] = [], verbsB: [Int] = []
        textsA.reserveCapacity(n)
        verbsA.reserveCapacity(n)
        textsB.reserveCapacity(m)
        verbsB.reserveCapacity(m)
        for k in 0..<n {
            textsA.append(a[k].text)
            verbsA.append(a[k].verb.knownCode)
        }
        for k in 0..<m {
            textsB.append(b[k].text)
            verbsB.append(b[k].verb.knownCode)
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                let s = Similarity(textsA[i], verbsA[i], textsB[j], verbsB[j])
                sim[i * m + j] = s
                var best = max(dp[at(i + 1, j)], dp[at(i, j + 1)])
                if s != .none { best = max(best, s.rawValue + dp[at(i + 1, j + 1)]) }
                dp[at(i, j)] = best
            }
        }
        var out: [(Int, Int, Similarity)] = []
        out.reserveCapacity(min(n, m))
        var i = 0, j = 0
        while i < n, j < m {
            let s = sim[i * m + j]
            if s != .none, dp[at(i, j)] == s.rawValue + dp[at(i + 1, j + 1)] {
                out.append((i, j, s))
                i += 1
                j += 1
            } else if dp[at(i, j)] == dp[at(i, j + 1)] {
                j += 1
            } else {
                i += 1
            }
        }
        return out
    }

    /// Messages that both legs carry must be the same ones: a middlebox keeps the Message-ID. True
    /// when both carry messages and none is the same (either way round).
    static func carryDifferentMessages(_ a: Leg, _ b: Leg) -> Bool {
        !a.messageIDs.isEmpty && !b.messageIDs.isEmpty && a.messageIDs.isDisjoint(with: b.messageIDs)
    }

    /// Tries `client` as the client leg and `server` as the server leg. Nil when the timing
    /// contradicts that reading or nothing ties them. Legs from two captures are not paired when
    /// their clocks would differ by more than `maxClockOffset` seconds (the finder's window).
    static func evaluate(client: Leg, server: Leg, sameClock: Bool, maxClockOffset: Double) -> Pairing? {
        evaluate(client: client, server: server, sameClock: sameClock, maxClockOffset: maxClockOffset,
                 distinctive: client.distinctiveLines.intersection(server.distinctiveLines))
    }

    /// `distinctive`: the distinctive lines both legs carry (the same either way round).
    static func evaluate(client: Leg, server: Leg, sameClock: Bool, maxClockOffset: Double, distinctive: Set<LineKey>) -> Pairing? {
        // Timestamps of one clock can be a little out of order between two interfaces.
        let tolerance = sameClock ? 0.00002 : 0.0
        // A distinctive line (EHLO name, MAIL, RCPT) that the server leg carried only before the
        // client sent it cannot have been relayed: the legs are two dialogues that look alike.
        func distinctiveLinesRelayed(offset: Double) -> Bool {
            // Few distinctive lines, compared as bytes (no hashing per command).
            distinctive.allSatisfy { line in
                client.commands.allSatisfy { c in
                    c.text != line.bytes || server.commands.contains {
                        $0.text == c.text && $0.time.adding(seconds: -offset).seconds(since: c.time) >= -tolerance
                    }
                }
            }
        }
        // Known before aligning, on any clock: look-alike sessions of one sender fail it.
        if carryDifferentMessages(client, server) { return nil }
        // On one clock this is known before aligning too (the cheap test first: most look-alike
        // sessions fail it one way round).
        if sameClock, !distinctiveLinesRelayed(offset: 0) { return nil }
        // So is the greeting test below, where every copy of a shared greeting left on the
        // server leg only after the client had its answer: then no alignment can relay it.
        if sameClock {
            for c in client.commands where c.verb == .ehlo || c.verb == .helo {
                guard let answered = c.reply?.time, distinctive.contains(where: { $0.bytes == c.text }) else { continue }
                if !server.commands.contains(where: { $0.text == c.text && answered.seconds(since: $0.time) >= -tolerance }) { return nil }
            }
        }

        let aligned = align(client.commands, server.commands)
        let identical = aligned.filter { $0.2 == .identical }
        guard !identical.isEmpty else { return nil }

        // Causality: a relayed command appears on the server leg after the client sent it
        // (offset ≤ tS − tC); a relayed reply reaches the client after the server sent it
        // (offset ≥ tS − tC). Offset = server-leg clock − client-leg clock.
        var upper: [Double] = identical.map { server.commands[$0.1].time.seconds(since: client.commands[$0.0].time) }
        var lower: [Double] = []
        lower.reserveCapacity(identical.count + 1)
        for (i, j, s) in identical where s == .identical {
            guard let rc = client.commands[i].reply, let rs = server.commands[j].reply, rc.text == rs.text else { continue }
            lower.append(rs.time.seconds(since: rc.time))
        }
        if let bc = client.banner, let bs = server.banner, bc.text == bs.text { lower.append(bs.time.seconds(since: bc.time)) }
        var offset = 0.0, uncertainty = 0.0, margin = 0.0
        upper.sort()
        lower.sort()
        if sameClock {
            // One clock: no relayed line may travel backwards in time.
            let badCommands = upper.filter { $0 < -tolerance }.count
            let badReplies = lower.filter { $0 > tolerance }.count
            guard badCommands == 0, badReplies * 4 <= lower.count else { return nil }
            margin = min(upper.first ?? 0, -(lower.last ?? 0))
        } else {
            // Identical replies the middlebox wrote itself would bound the offset wrongly: drop the
            // most contradicting ones, at most a quarter of them.
            var dropped = 0
            while let hi = lower.last, let lo = upper.first, hi > lo, dropped * 4 < lower.count + 1 {
                lower.removeLast()
                dropped += 1
            }
            guard let lo = upper.first else { return nil }
            let hi = lower.last ?? (lo - 3600)
            guard hi <= lo else { return nil }
            offset = (hi + lo) / 2
            guard abs(offset) <= maxClockOffset else { return nil }
            uncertainty = (lo - hi) / 2
            margin = lo - hi
        }
        // Every line at the same instant on both legs: one leg captured twice (the same trace in two
        // files, or a packet seen on two interfaces), not a middlebox, which always takes some time.
        guard margin > 0.000002 || lower.isEmpty else { return nil }
        if !sameClock, lower.isEmpty, upper.count > 1, upper.last! - upper.first! < 0.000002 { return nil }

        if !sameClock, !distinctiveLinesRelayed(offset: offset) { return nil }

        var score = 0
        var evidence: [String] = []
        let shared = client.commands.filter { distinctive.contains(LineKey($0.text)) }
        if let helo = shared.first(where: { $0.verb == .helo || $0.verb == .ehlo }) {
            score += 2
            evidence.append("same greeting: \(Printable.short(helo.text, limit: 60))")
        }
        let envelope = Set(shared.filter { $0.verb == .mail || $0.verb == .rcpt }.map { LineKey($0.text) })
        if !envelope.isEmpty {
            score += min(6, 2 * envelope.count)
            evidence.append("same envelope: \(envelope.count) MAIL/RCPT line\(envelope.count == 1 ? "" : "s")")
        }
        let ids = client.messageIDs.intersection(server.messageIDs)
        if let id = ids.first {
            score += 4
            evidence.append("same message: Message-ID \(Printable.short(Array(id.utf8), limit: 60))")
        }
        if let bc = client.banner, let bs = server.banner {
            if bc.text == bs.text {
                score += 1
                evidence.append("banner relayed")
            } else if bc.text.isMasked(version: bs.text) {
                score += 2
                evidence.append("banner masked")
            }
        }
        let ratio = Double(identical.count) / Double(max(1, client.commands.count))
        if ratio >= 0.5 { score += 2 }
        evidence.append("\(identical.count) of \(client.commands.count) client commands found on the server leg")
        if sameClock {
            evidence.append("timing consistent on one clock: commands reach the server leg after the client sent them, replies reach the client after the server sent them")
        } else {
            evidence.append("timing consistent with a clock offset of \(fmt(offset)) ± \(fmt(uncertainty)) s")
        }
        // A client command answered on the client leg before the server leg even carried it was
        // answered by the middlebox; the later server-leg copy is the middlebox's own (a replay).
        let matches = aligned.filter { i, j, _ in
            guard let r = client.commands[i].reply else { return true }
            return r.time.seconds(since: server.commands[j].time.adding(seconds: -offset)) >= -tolerance
        }
        // The client's greeting, word for word on the server leg, must have been passed on: a
        // middlebox that answers the greeting itself speaks with its own name. Answered here and
        // then sent there too, it belongs to two dialogues that look alike.
        let relayed = Set(matches.lazy.filter { $0.2 == .identical }.map(\.0))
        for (i, c) in client.commands.enumerated() where (c.verb == .ehlo || c.verb == .helo) && distinctive.contains(LineKey(c.text)) && !relayed.contains(i) {
            return nil
        }
        return Pairing(client: client, server: server, score: score, evidence: evidence,
                       clock: Intercept.ClockOffset(seconds: offset, uncertainty: uncertainty, sameClock: sameClock), matches: matches, margin: margin)
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return String(r)
    }
}
