import Correlation
import SMTP
import Vocabulary
import Sessions

/// Turns what a session shows into findings. Pure: a finished session in, findings out.
public enum FindingsEngine {
    /// Findings about one session, in timeline order.
    public static func session(_ s: Session, _ transactions: [Transaction]) -> [Finding] {
        var r = Rules(s, transactions)
        r.greeting()
        r.resetsAndKeepalives()
        r.replyTiming()
        r.inspection()
        r.starttls()
        r.pipelining()
        r.fromAnomalies()
        r.sizes()
        r.eightBitContent()
        r.timeAndEnd()
        r.credentials()
        r.serverLog()
        // Last: how much a TTL change weighs depends on what the other rules found.
        r.ttlChange()
        return r.out.sorted { ($0.time ?? .zero, $0.id) < ($1.time ?? .zero, $1.id) }
    }

    /// A key log was given, and none of its keys belongs to a TLS handshake in the capture (the
    /// first of which is `session`'s, which began at `time`).
    public static func keyLogMatchesNoHandshake(session: Int, at time: Timestamp, keys: Int) -> Finding {
        Finding(id: .keyLogMatchesNoHandshake, severity: Catalog.entry(.keyLogMatchesNoHandshake).severity, time: time,
                message: "the key log holds keys for \(keys) TLS session\(keys == 1 ? "" : "s"), none of them one of this capture's handshakes (session \(session) and any later): something on the client host may have ended the client's TLS and spoken TLS of its own (a mail shield), or the key log belongs to another capture",
                session: session)
    }

    /// The finding that says two sessions are one connection seen twice.
    public static func sameConnection(_ x: SameConnection) -> Finding {
        Finding(id: .sameConnection, severity: .info, time: x.start,
                message: "sessions \(x.nearClient) ≡ \(x.nearServer): " + x.verdict, session: x.nearClient)
    }

    /// Findings about an intercepted connection.
    public static func intercept(_ x: Intercept) -> [Finding] {
        var out: [Finding] = []
        func add(_ id: FindingID, _ message: String) {
            out.append(Finding(id: id, severity: Catalog.entry(id).severity, time: x.start, message: message, session: x.clientLeg))
        }
        let legs = "session \(x.clientLeg) ⇄ " + x.serverLegs.map { "\($0)" }.joined(separator: ", ")
        let v = x.verdict
        switch v.kind {
        case .storeAndForward: add(.interceptedStoreAndForward, "\(legs): \(v)")
        case .inlineInspection, .other: add(.interceptedInlineRewriter, "\(legs): \(v)")
        case .starttlsAnswered: add(.interceptedStarttls, "\(legs): \(v)")
        case .tlsInterception: add(.interceptedTLS, "\(legs): \(v)")
        case .transparentRelay: add(.interceptedRelay, "\(legs): \(v)")
        }
        if v.kind == .inlineInspection, v.answeredStartTLS {
            add(.interceptedStarttls, "\(legs): STARTTLS answered by the middlebox")
        }
        for a in x.actions where a.kind == .divergent {
            out.append(Finding(id: .divergentOutcome, severity: .problem, time: a.clientClockTime, message: "\(legs): " + (a.note ?? "the legs ended differently"), session: x.clientLeg))
        }
        return out
    }
}

/// The rules, over one session's timeline.
struct Rules {
    let s: Session
    let txns: [Transaction]
    var out: [Finding] = []
    /// Timeline positions of commands, and of the reply answering each command index.
    var commands: [(pos: Int, index: Int, verb: Verb, line: [UInt8])] = []
    var replyTo: [Int: Int] = [:]

    init(_ s: Session, _ txns: [Transaction]) {
        self.s = s
        self.txns = txns
        commands.reserveCapacity(s.timeline.count / 2 + 1)
        replyTo.reserveCapacity(s.timeline.count / 2 + 1)
        for (i, e) in s.timeline.enumerated() {
            switch e.kind {
            case .command(let index, let verb, _): commands.append((i, index, verb, e.line))
            case .reply(_, let answering?): replyTo[answering] = i
            default: break
            }
        }
    }

    mutating func add(_ id: FindingID, _ message: String, at pos: Int? = nil, transaction: Int? = nil, severity: Severity? = nil) {
        let entry = pos.map { s.timeline[$0] }
        out.append(Finding(id: id, severity: severity ?? Catalog.entry(id).severity, time: entry?.time ?? s.start,
                           message: message, session: s.id, transaction: transaction ?? entry?.transaction, timelineIndex: pos))
    }

    func reply(_ c: (pos: Int, index: Int, verb: Verb, line: [UInt8])) -> TimelineEntry? { replyTo[c.index].map { s.timeline[$0] } }
    func code(_ e: TimelineEntry?) -> Int? { if case .reply(let c, _)? = e?.kind { return c } else { return nil } }
    func text(_ b: [UInt8]) -> String { Printable.short(b, limit: 60) }

    // MARK: Greeting

    mutating func greeting() {
        let greetings = commands.filter { $0.verb == .helo || $0.verb == .ehlo }
        for g in greetings {
            let arg = g.line.drop { $0 != 0x20 }.drop { $0 == 0x20 }
            let c = code(reply(g))
            if arg.isEmpty {
                add(.heloWithoutHostname, "the client sent \"\(text(g.line))\" with no host name" + (c.map { "; the server answered \($0)" } ?? ""), at: g.pos)
            } else if arg.first == UInt8(ascii: "[") {
                var literal = String(decoding: arg.dropFirst().prefix { $0 != UInt8(ascii: "]") }, as: UTF8.self)
                if literal.lowercased().hasPrefix("ipv6:") { literal = String(literal.dropFirst(5)) }
                if literal != s.client.address.description {
                    add(.heloLiteralMismatch, "the client calls itself [\(literal)] but its packets come from \(s.client.address)", at: g.pos)
                }
            }
        }
        guard let last = greetings.last else { return }
        let accepted = greetings.contains { (code(reply($0)) ?? 0) / 100 == 2 }
        if !accepted, let c = code(reply(last)), c >= 400, txns.isEmpty, s.bytes[1] > 0 {
            add(.heloRefusedClientGaveUp, "the server refused \"\(text(last.line))\" (\(c)) and the client gave up: no mail could pass", at: replyTo[last.index])
        }
        // A client that already had a greeting accepted does not need another one.
        if let e = greetings.first(where: { $0.verb == .ehlo && (code(reply($0)) ?? 0) >= 500 }),
            !greetings.contains(where: { $0.verb == .helo && $0.pos > e.pos }),
            !greetings.contains(where: { $0.pos < e.pos && (code(reply($0)) ?? 0) / 100 == 2 })
        {
            add(.ehloRefusedNoHelo, "EHLO was refused and the client never tried HELO", at: replyTo[e.index])
        }
    }

    // MARK: RSET, replays, NOOP

    mutating func resetsAndKeepalives() {
        for t in txns where t.outcome == .reset && t.resetBy == .rset && !t.rcptTo.isEmpty && t.size == nil {
            let rset = commands.first { $0.verb == .rset && s.timeline[$0.pos].transaction == t.index }
            add(.rsetAfterRecipients, "transaction \(t.index): \(t.rcptTo.count) recipient\(t.rcptTo.count == 1 ? "" : "s") accepted, then RSET where DATA was expected", at: rset?.pos, transaction: t.index)
        }
        // RSET then MAIL after a delivered message: connection caching.
        for (k, c) in commands.enumerated() where c.verb == .rset && s.timeline[c.pos].transaction == nil {
            let before = txns.filter { $0.end <= s.timeline[c.pos].time && $0.outcome == .queued }
            if !before.isEmpty, k + 1 < commands.count, commands[k + 1].verb == .mail {
                add(.rsetConnectionReuse, "RSET before MAIL on a connection that already delivered a message (connection caching; benign)", at: c.pos)
            }
        }
        var run = 0
        for c in commands {
            if c.verb == .rset {
                run += 1
                if run == 2 { add(.rsetBurst, "RSET sent again with nothing in between", at: c.pos) }
            } else if c.verb != .noop {
                run = 0
            }
        }
        for (i, t) in txns.enumerated() where t.outcome == .reset && !t.rcptSent.isEmpty {
            if let again = txns[(i + 1)...].first(where: { $0.mailFrom == t.mailFrom && $0.rcptSent == t.rcptSent }) {
                let gap = again.start.seconds(since: t.end)
                add(.transactionReplayed, "transaction \(again.index) repeats transaction \(t.index) (same sender and recipients) \(DurationText.format(gap)) after it was reset", transaction: again.index)
            }
        }
        let noops = commands.filter { $0.verb == .noop }
        if noops.count >= 2 {
            add(.noopKeepalive, "\(noops.count) NOOPs, from +\(format1(s.timeline[noops[0].pos].time.seconds(since: s.start))) s to +\(format1(s.timeline[noops.last!.pos].time.seconds(since: s.start))) s", at: noops[0].pos)
        }
    }

    // MARK: Timing and TTL

    mutating func replyTiming() {
        func latency(_ c: (pos: Int, index: Int, verb: Verb, line: [UInt8])) -> Double? {
            reply(c).map { $0.time.seconds(since: s.timeline[c.pos].time) }
        }
        // No reply from the server can come back faster than a round trip to it, and every reply
        // the server must write itself (to EHLO, MAIL, RCPT: a relaying middlebox passes those on)
        // measures one at the capture point. A reply to DATA or to the end of the message that
        // beats the fastest of them by far was written by something nearer. (The TCP handshake is
        // no measure here: a proxy that answers DATA itself answers the handshake itself too.)
        // This holds only where the capture sees the round trip: not beside the server, where
        // every reply takes only the server's own time (a 354 is quicker to write than an EHLO
        // reply). The handshake tells: beside the server the SYN-ACK leaves at once and the ACK
        // comes a round trip later.
        let relayed = commands.filter { $0.verb == .helo || $0.verb == .ehlo || $0.verb == .mail || $0.verb == .rcpt }.compactMap(latency)
        let besideServer = s.handshakeHalves.map { $0.client > 0.001 && $0.client > 4 * $0.server } ?? true
        if !besideServer, let rtt = relayed.min(), rtt > 0.001 {
            for c in commands where c.verb == .data || c.verb == .endOfData {
                guard let l = latency(c), let r = reply(c), l < rtt / 4 else { continue }
                add(.fastReply, "\"\(text(r.line))\" came \(ms(l)) after \(c.verb == .data ? "DATA" : "the end of the message"), while the server took at least \(ms(rtt)) to answer anything else: something nearer answered", at: replyTo[c.index])
            }
        }
        ipIDSequence()
    }

    /// Findings that say from the dialogue's content that a middlebox wrote into it: a masked
    /// banner, XXXXXXXA, a command overwritten with X, a 354 or end-of-data reply faster than the
    /// server answers, STARTTLS offered and then called unknown, a reply out of the server's IPv4
    /// ID sequence.
    static let middleboxContent: Set<FindingID> = [.bannerMasked, .starttlsMasked, .commandMasked, .fastReply, .starttlsAnswerInconsistent, .ipIDMismatch]

    /// A reply with another TTL than the banner was written by another host. At large providers
    /// that host is the provider's own: a front end accepts the connection and the banner, and
    /// another machine answers the rest (Yahoo's, in Suricata's smtp-bug-5981, changes the TTL at
    /// the 221). Alone it is information; with content that shows a middlebox, a warning.
    mutating func ttlChange() {
        guard let banner = s.banner, banner.ttl != 0 else { return }
        guard let i = s.timeline.indices.first(where: {
            if case .reply = s.timeline[$0].kind { return s.timeline[$0].ttl != 0 && s.timeline[$0].ttl != banner.ttl } else { return false }
        }) else { return }
        let e = s.timeline[i]
        let evidence = Set(out.map(\.id)).intersection(Self.middleboxContent).sorted()
        if evidence.isEmpty {
            add(.ttlMismatch, "\"\(text(e.line))\" arrived with TTL \(e.ttl), the banner with \(banner.ttl): written by another host; nothing in the dialogue shows a middlebox (a provider's front end handing the connection on does this)", at: i, severity: .info)
        } else {
            add(.ttlMismatch, "\"\(text(e.line))\" arrived with TTL \(e.ttl), the banner with \(banner.ttl): written by another host, and the dialogue shows a middlebox (\(evidence.map(\.rawValue).joined(separator: ", ")))", at: i, severity: .warning)
        }
    }

    /// Most stacks number a connection's IPv4 packets from one counter, so the IDs of successive
    /// replies move forward by the packets sent in between. A reply whose ID leaves that sequence
    /// while the next reply takes it up again was written by another host (RFC 6864 §4). Stacks
    /// with random IDs show no sequence and are left alone.
    mutating func ipIDSequence() {
        let replies = s.timeline.indices.filter {
            if case .reply = s.timeline[$0].kind, s.timeline[$0].ipID != nil { return true } else { return false }
        }
        guard replies.count >= 4 else { return }
        let ids = replies.map { s.timeline[$0].ipID! }
        guard ids.contains(where: { $0 != 0 }) else { return }
        func forward(_ a: UInt16, _ b: UInt16) -> Bool { b &- a < 4096 }  // 0: the same packet (pipelined replies)
        let odd = Set((1..<(ids.count - 1)).filter { !forward(ids[$0 - 1], ids[$0]) && forward(ids[$0 - 1], ids[$0 + 1]) })
        guard let first = odd.min() else { return }
        // The rest must form a sequence, stepping over the odd replies.
        let rest = ids.indices.filter { !odd.contains($0) }.map { ids[$0] }
        let steps = zip(rest, rest.dropFirst()).filter { forward($0, $1) }.count
        guard steps * 10 >= (rest.count - 1) * 9 else { return }
        let e = s.timeline[replies[first]]
        add(.ipIDMismatch, "\"\(text(e.line))\" arrived with IPv4 ID \(ids[first]), outside the sequence of the server's other replies (\(ids[first - 1]) before it, \(ids[first + 1]) after): written by another host", at: replies[first])
    }

    // MARK: Inspecting firewalls

    mutating func inspection() {
        if let b = s.banner {
            let t = b.lines.first ?? []
            let stars = t.filter { $0 == UInt8(ascii: "*") }.count
            if t.count >= 4, stars * 2 >= t.count {
                add(.bannerMasked, "the banner reads \"\(text(b.displayLine))\"", at: s.timeline.firstIndex { if case .reply(_, nil) = $0.kind { return true } else { return false } })
            }
        }
        for c in commands where c.verb == .ehlo {
            if let r = reply(c), r.line.containsASCII("XXXXXXXA") {
                add(.starttlsMasked, "the EHLO reply lists XXXXXXXA where STARTTLS would be", at: replyTo[c.index])
            }
        }
        for c in commands where c.line.count >= 4 && c.line.allSatisfy({ $0 == UInt8(ascii: "X") }) {
            add(.commandMasked, "a \(c.line.count)-character command arrived as X's" + (code(reply(c)).map { "; the server answered \($0)" } ?? ""), at: c.pos)
        }
    }

    // MARK: STARTTLS

    mutating func starttls() {
        let offered = s.offered("starttls") != nil
        if s.starttls == .offered, !txns.isEmpty {
            add(.starttlsNotUsed, "the server offered STARTTLS; the client sent \(txns.count) transaction\(txns.count == 1 ? "" : "s") in the clear")
        }
        for c in commands where c.verb == .starttls {
            guard let code = code(reply(c)), code != 220 else { continue }
            if offered, code == 500 || code == 502 {
                add(.starttlsAnswerInconsistent, "STARTTLS was offered, then answered \"\(text(reply(c)!.line))\": not the server's answer", at: replyTo[c.index])
            } else {
                add(.starttlsRefused, "STARTTLS refused: \"\(text(reply(c)!.line))\"", at: replyTo[c.index])
            }
        }
    }

    // MARK: Credentials

    /// Mechanisms whose responses carry the secret itself (RFC 4616 PLAIN, the LOGIN draft, RFC
    /// 7628 OAUTHBEARER and its predecessor XOAUTH2: a bearer token), and how many non-empty
    /// responses it takes until the secret has been sent.
    static let cleartextMechanisms: [String: Int] = ["PLAIN": 1, "LOGIN": 2, "XOAUTH2": 1, "OAUTHBEARER": 1]

    /// AUTH in the dialogue's clear text, before any STARTTLS the server accepted, with a mechanism
    /// that sends the password: anyone on the path has it (RFC 4954 §4). After an accepted STARTTLS
    /// followed by clear text (`plaintext-after-starttls`) the capture is most often a firewall's
    /// decrypted export, so nothing is said there.
    mutating func credentials() {
        let tlsAccepted = commands.first { $0.verb == .starttls && code(reply($0)) == 220 }?.pos ?? Int.max
        for (k, c) in commands.enumerated() where c.verb == .auth && c.pos < tlsAccepted {
            let words = c.line.split(separator: 0x20)
            let mechanism = words.count > 1 ? String(decoding: words[1].map(ASCII.upper), as: UTF8.self) : ""
            guard let needed = Self.cleartextMechanisms[mechanism] else { continue }
            var sent = words.count > 2 && !(words[2].count == 1 && words[2].first == UInt8(ascii: "=")) ? 1 : 0
            for r in commands[(k + 1)...].prefix(while: { $0.verb == .authResponse }) where r.line != [UInt8(ascii: "*")] { sent += 1 }
            guard sent >= needed else { continue }
            let outcome = code(reply(commands[k + sent - (words.count > 2 ? 1 : 0)])).map { "; the server answered \($0)" } ?? ""
            add(.cleartextCredentials, "AUTH \(mechanism) sent the \(mechanism.hasSuffix("OAUTH2") || mechanism == "OAUTHBEARER" ? "access token" : "password") without TLS\(outcome)", at: c.pos)
            return
        }
    }

    // MARK: Pipelining

    mutating func pipelining() {
        guard s.offered("pipelining") == nil else { return }
        var groups: [Int: Int] = [:]
        var first: [Int: Int] = [:]
        for (i, e) in s.timeline.enumerated() {
            if case .command(_, let verb, let g) = e.kind, verb != .endOfData, verb != .authResponse {
                groups[g, default: 0] += 1
                if first[g] == nil { first[g] = i }
            }
        }
        if let g = groups.filter({ $0.value > 1 }).keys.min(), s.heloVerb != nil || !s.extensions.isEmpty {
            add(.pipeliningNotOffered, "\(groups[g]!) commands sent without waiting, and the server did not offer PIPELINING", at: first[g])
        }
    }

    // MARK: From decoder anomalies

    /// Decoder anomalies that are findings in their own right, by anomaly name.
    static let anomalyFindings: [Anomaly.Name: FindingID] = [
        .clientDidNotWait: .commandsAfterData, .replyWithoutCommand: .replyWithoutCommand,
        .commandsNeverAnswered: .commandsNeverAnswered, .replyMalformed: .invalidReply,
        .replyCodeInvalid: .invalidReply, .replyCodeMismatch: .invalidReply,
        .bareLF: .bareLineEnding, .bareCR: .bareLineEnding, .bareLFEndOfData: .bareLineEnding, .bareLFInMessage: .bareLineEnding,
        .commandLineTooLong: .lineTooLong, .replyLineTooLong: .lineTooLong, .lineOverHardLimit: .lineTooLong,
        .nulByte: .nulByte, .bdatInvalid: .bdatInvalid,
    ]

    mutating func fromAnomalies() {
        var seen = Set<FindingID>()
        for a in s.anomalies {
            if let id = Self.anomalyFindings[a.name], seen.insert(id).inserted {
                out.append(Finding(id: id, severity: Catalog.entry(id).severity, time: a.time, message: a.detail, session: s.id, timelineIndex: position(a.time)))
            }
        }
        if s.anomalies.contains(where: { $0.name == .eightBitCommand }), !txns.contains(where: { $0.mailParameters.contains { $0.key == "SMTPUTF8" } }) {
            let a = s.anomalies.first { $0.name == .eightBitCommand }!
            out.append(Finding(id: .smtpUTF8Missing, severity: .warning, time: a.time, message: "8-bit bytes in a command, and no MAIL asked for SMTPUTF8", session: s.id, timelineIndex: position(a.time)))
        }
    }

    func position(_ t: Timestamp?) -> Int? {
        guard let t else { return nil }
        return s.timeline.lastIndex { $0.time <= t }
    }

    // MARK: Sizes

    /// 8-bit content needs BODY=8BITMIME (RFC 6152 §3) or BINARYMIME (RFC 3030 §3); without it
    /// the server may reject, strip the high bit or re-encode the message.
    mutating func eightBitContent() {
        for t in txns where t.eightBitContent && !t.tls {
            let body = t.mailParameters.first { $0.key == "BODY" }?.value?.uppercased()
            guard body != "8BITMIME", body != "BINARYMIME" else { continue }
            // A server that offers 8BITMIME takes 8-bit content in practice (information); one that
            // does not may refuse it or strip the high bit (a warning).
            let offered = s.offered("8bitmime") != nil
            add(.eightBitWithout8BITMIME, "transaction \(t.index): the message has 8-bit bytes but MAIL did not say BODY=8BITMIME" + (offered ? "" : ", and the server did not offer 8BITMIME"),
                transaction: t.index, severity: offered ? .info : .warning)
        }
    }

    mutating func sizes() {
        guard let ext = s.offered("size"),
            let last = ext.utf8.split(separator: UInt8(ascii: " ")).last,
            let limit = Int(String(decoding: last, as: UTF8.self)), limit > 0
        else { return }
        for t in txns {
            if let size = t.size, size > limit {
                add(.messageOverSize, "transaction \(t.index): \(size) octets, the server's SIZE is \(limit)", transaction: t.index)
            }
        }
    }

    // MARK: Time and the end

    mutating func timeAndEnd() {
        for i in s.timeline.indices.dropFirst() {
            let pause = s.timeline[i].time.seconds(since: s.timeline[i - 1].time)
            if pause > 300 {
                add(.longSilence, "\(DurationText.format(pause)) of silence before \"\(text(s.timeline[i].line))\"", at: i)
                break
            }
        }
        if s.close == .fin, !s.quitSent {
            add(.closedWithoutQuit, "the connection closed (FIN) without QUIT")
        }
        if s.close == .rst, txns.contains(where: { $0.outcome == .abandoned || $0.outcome == .incomplete }) {
            add(.rstMidTransaction, "a TCP reset ended the connection during a transaction")
        }
        let gaps = s.gaps[0] + s.gaps[1]
        if gaps > 0 {
            let first = s.timeline.firstIndex { if case .gap = $0.kind { return true } else { return false } }
            let missing = s.gapBytes[0] + s.gapBytes[1]
            add(.captureGap, "\(gaps) gap\(gaps == 1 ? "" : "s"), \(missing) byte\(missing == 1 ? "" : "s") missing from the capture", at: first)
        }
    }
}

func format1(_ v: Double) -> String { String((v * 10).rounded() / 10) }
/// A duration in a finding's message: the one rule for durations (`DurationText`).
func ms(_ s: Double) -> String { DurationText.format(s) }
