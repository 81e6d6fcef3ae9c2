import SMTP
import Vocabulary
import Sessions

/// One TCP connection seen at two capture points (a workstation and a mail server, or two
/// interfaces of one capture): the same sequence space and the same bytes. Not an intercept:
/// nothing between the two points spoke SMTP. What did lie between them is said by `relation`.
///
/// Told apart from the legs of a relaying proxy by the TCP handshake: a proxy answers the
/// client's SYN itself and opens a connection of its own, with its own initial sequence numbers
/// and TCP timestamps (RFC 9293 §3.4.1, RFC 7323 §5.4: both are chosen per connection). Two
/// captures of one connection carry the same ones, even where NAT changed addresses and ports.
public struct SameConnection: Sendable {
    public enum Relation: String, Sendable {
        /// Same addresses, ports and sequence numbers: nothing between the points changed the connection.
        case unchanged
        /// Addresses or ports differ, sequence numbers are the same: NAT, or a TCP load balancer.
        case addressTranslation = "address-translation"
        /// Sequence numbers differ while the handshake's TCP timestamps are the same on both
        /// sides: a firewall that randomises sequence numbers (Cisco ASA does by default) or a TCP
        /// load balancer; addresses may have been translated too.
        case sequenceRewritten = "sequence-rewritten"
    }

    /// The copy nearer the client (it carries each command first) and the copy nearer the server:
    /// their session numbers, as the run that read each capture numbered them.
    public var nearClient: Int
    public var nearServer: Int
    public var nearClientCapture: Vantage
    public var nearServerCapture: Vantage
    public var nearClientEndpoints: (client: Endpoint, server: Endpoint)
    public var nearServerEndpoints: (client: Endpoint, server: Endpoint)
    public var start: Timestamp
    public var relation: Relation
    /// Near-server capture's clock minus near-client capture's clock.
    public var clock: Intercept.ClockOffset
    /// Seconds a line took from one capture point to the other, one way (nil when every line has
    /// the same time in both copies).
    public var transit: Double?
    /// Bytes each copy lost in gaps [near client, near server], and those of them the other copy
    /// holds (a packet one capture dropped is often in the other).
    public var gapBytes: [Int]
    public var gapBytesInOtherCopy: [Int]
    /// The near-server copy's sequence numbers minus the near-client copy's [client's, server's]
    /// (0 unless a device rewrote them; wrapping arithmetic).
    public var sequenceDelta: [UInt32]
    public var verdict: String
    public var evidence: [String]

    /// Whether `a` and `b` are one connection captured twice. Nil when they are two connections,
    /// or one connection whose SMTP content differs between the points (an inline rewriter, which
    /// pairing explains as an intercept).
    static func recognize(_ a: Leg, _ b: Leg) -> SameConnection? {
        let wa = a.wire, wb = b.wire
        /// Known on both sides and equal; where one side's is unknown, it does not contradict.
        func agree<T: Equatable>(_ x: [T?], _ y: [T?]) -> Bool {
            guard let c1 = x[0], let c2 = y[0], c1 == c2 else { return false }
            guard let s1 = x[1], let s2 = y[1] else { return true }
            return s1 == s2
        }
        let sameSequence = agree(wa.isn, wb.isn)
        // Timestamps alone could coincide for two connections from one host opened in the same
        // millisecond: both the SYN's and the SYN-ACK's must be known and equal.
        let sameTimestamps = wa.synTimestamp.allSatisfy { $0 != nil } && wa.synTimestamp == wb.synTimestamp
        guard sameSequence || sameTimestamps else { return nil }

        // The same bytes: every command and reply seen in both copies identical, lines missing
        // from one copy only where that copy has a gap.
        let aligned = Pairer.align(a.commands, b.commands)
        guard !aligned.isEmpty, aligned.allSatisfy({ $0.2 == .identical }) else { return nil }
        let gapsA = wa.gaps[0] + wa.gaps[1], gapsB = wb.gaps[0] + wb.gaps[1]
        if aligned.count < a.commands.count, gapsB == 0, a.commands.count <= Pairer.maxLines { return nil }
        if aligned.count < b.commands.count, gapsA == 0, b.commands.count <= Pairer.maxLines { return nil }
        if let x = a.banner, let y = b.banner, x.text != y.text { return nil }
        var commandDeltas: [Double] = [], replyDeltas: [Double] = []
        for (i, j, _) in aligned {
            let ca = a.commands[i], cb = b.commands[j]
            commandDeltas.append(cb.time.seconds(since: ca.time))
            if let ra = ca.reply, let rb = cb.reply {
                guard ra.text == rb.text || gapsA + gapsB > 0 else { return nil }
                if ra.text == rb.text { replyDeltas.append(rb.time.seconds(since: ra.time)) }
            }
        }
        if let x = a.banner, let y = b.banner { replyDeltas.append(y.time.seconds(since: x.time)) }
        for m in a.messages {
            guard let id = m.messageID, let n = b.messages.first(where: { $0.messageID == id }) else { continue }
            if m.size != n.size, gapsA + gapsB == 0 { return nil }
        }

        // Commands travel client → server, replies server → client: with `b` nearer the server,
        // a command's time difference is offset + transit and a reply's offset − transit.
        let mc = median(commandDeltas), mr = replyDeltas.isEmpty ? mc : median(replyDeltas)
        let bNearerServer = mc - mr >= 0
        let (near, far) = bNearerServer ? (a, b) : (b, a)
        let sign = bNearerServer ? 1.0 : -1.0
        let up = commandDeltas.map { $0 * sign }.sorted(), low = replyDeltas.map { $0 * sign }.sorted()
        let sameClock = a.vantage.file == b.vantage.file
        var clock = Intercept.ClockOffset(seconds: 0, uncertainty: 0, sameClock: sameClock)
        let transit = abs(mc - mr) / 2
        if !sameClock {
            if let lo = up.first, let hi = low.last, hi <= lo {
                clock.seconds = (hi + lo) / 2
                clock.uncertainty = (lo - hi) / 2
            } else {
                // Causality bounds that cross: jitter or drift. The medians still say where it is.
                clock.seconds = (mc + mr) / 2 * sign
                clock.uncertainty = transit
            }
        }

        var relation = Relation.unchanged
        if near.endpointClient != far.endpointClient || near.endpointServer != far.endpointServer { relation = .addressTranslation }
        if !sameSequence { relation = .sequenceRewritten }

        var evidence: [String] = []
        if sameSequence {
            evidence.append("same initial sequence numbers (client \(wa.isn[0].map(String.init) ?? "?"), server \(wa.isn[1].map(String.init) ?? "?"))")
        } else {
            evidence.append("sequence numbers differ, the TCP timestamps of SYN and SYN-ACK are the same")
        }
        evidence.append("\(aligned.count) of \(max(a.commands.count, b.commands.count)) commands and their replies identical")
        if transit > 0 { evidence.append("a line takes \(Attribution.seconds(transit)) from one capture point to the other") }

        let gapBytes = [near.wire.gapBytes[0] + near.wire.gapBytes[1], far.wire.gapBytes[0] + far.wire.gapBytes[1]]
        // A direction's gap is held by the other copy when that copy lost nothing in that direction.
        func held(_ x: Leg, by y: Leg) -> Int { (0..<2).reduce(0) { $0 + (y.wire.gaps[$1] == 0 ? x.wire.gapBytes[$1] : 0) } }
        let inOther = [held(near, by: far), held(far, by: near)]

        var verdict: String
        switch relation {
        case .unchanged:
            verdict = "no middlebox: the same connection, seen at both capture points (same addresses, ports, sequence numbers and bytes)"
        case .addressTranslation:
            verdict = "no SMTP middlebox: the same connection through address translation between the capture points (NAT or a TCP load balancer): " + translation(near, far)
        case .sequenceRewritten:
            verdict = "no SMTP middlebox: the same connection through a device that rewrote TCP sequence numbers (a firewall that randomises them, or a TCP load balancer)"
            if near.endpointClient != far.endpointClient || near.endpointServer != far.endpointServer { verdict += " and translated addresses: " + translation(near, far) }
        }
        if transit == 0, sameClock || clock.seconds == 0 { verdict += "; every line has the same time in both copies (one trace read twice?)" }
        for (k, (x, y)) in [(near, far), (far, near)].enumerated() where gapBytes[k] > 0 {
            verdict += "; session \(x.session) lost \(gapBytes[k]) bytes in gaps"
            verdict += inOther[k] == gapBytes[k] ? ", which session \(y.session) holds" : inOther[k] > 0 ? ", \(inOther[k]) of which session \(y.session) holds" : ""
        }
        return SameConnection(
            nearClient: near.session, nearServer: far.session, nearClientCapture: near.vantage, nearServerCapture: far.vantage,
            nearClientEndpoints: (near.endpointClient, near.endpointServer), nearServerEndpoints: (far.endpointClient, far.endpointServer),
            start: min(a.start, b.start), relation: relation, clock: clock, transit: transit > 0 ? transit : nil,
            gapBytes: gapBytes, gapBytesInOtherCopy: inOther,
            sequenceDelta: (0..<2).map { d in
                guard let f = far.wire.isn[d], let n = near.wire.isn[d] else { return 0 }
                return f &- n
            },
            verdict: verdict, evidence: evidence)
    }

    /// What the translation changed, e.g. `192.0.2.10:39974 → 198.51.100.100:25 became 198.51.100.1:61134 → 198.51.100.25:25`.
    private static func translation(_ near: Leg, _ far: Leg) -> String {
        var changed: [String] = []
        if near.endpointClient.address != far.endpointClient.address { changed.append("client address") }
        if near.endpointClient.port != far.endpointClient.port { changed.append("client port") }
        if near.endpointServer.address != far.endpointServer.address { changed.append("server address") }
        if near.endpointServer.port != far.endpointServer.port { changed.append("server port") }
        return "\(near.endpointClient) → \(near.endpointServer) became \(far.endpointClient) → \(far.endpointServer)"
            + (changed.isEmpty ? "" : " (" + changed.joined(separator: ", ") + " changed)")
    }

    private static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
