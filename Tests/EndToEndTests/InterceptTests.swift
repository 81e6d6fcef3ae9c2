import Correlation
import Pipeline
import Foundation
import Sessions
import Testing

/// Runs the whole pipeline and the pairing over capture files.
func intercepts(_ paths: [String], mode: InterceptFinder.Mode = .auto) -> (Collector, [Intercept]) {
    let (c, _) = analyze(paths)
    let finder = InterceptFinder(mode: mode)
    for s in c.sessions { finder.add(s, transactions: c.transactions(of: s)) }
    return (c, finder.finish())
}

let middleboxModes = ["store-and-forward", "inline-rewriter", "starttls-answered", "plain-relay", "reconnect", "divergent", "gives-up", "gives-up-new-port"]

/// What the lab's intercepting proxy logged doing, as (kind, line) pairs in smtpscope's terms.
func proxyActions(_ mode: String) throws -> Set<String> {
    let truth = try #require(loadJSON(capturesDir.appendingPathComponent("middlebox-\(mode)-both-legs.truth.json")))
    let log = try #require(truth["proxy_log"] as? [[String: Any]])
    var out = Set<String>()
    for r in log {
        guard let action = r["action"] as? String, let dir = r["dir"] as? String else { continue }
        let line = r["line"] as? String
        switch (action, dir) {
        case ("withheld", "from_client"): if let line, line != "." { out.insert("withheld \(line)") }
        case ("answered", "to_client"): if let line { out.insert("synthesized \(line)") }
        case ("injected", "to_server"), ("replayed", "to_server"): if let line, line != "." { out.insert("injected \(line)") }
        case ("held", "from_client") where r["body"] != nil: out.insert("held message")
        case ("rewritten", "to_client"): if let line { out.insert("rewritten reply \(line.dropFirst(4))") }
        case ("rewritten", "to_server"): if let line { out.insert("rewritten command \(line)") }
        default: break
        }
    }
    return out
}

/// smtpscope's findings in the same terms; multi-line replies are matched line by line.
func ourActions(_ x: Intercept, proxy: Set<String>) -> Set<String> {
    var out = Set<String>()
    for a in x.actions {
        let line = String(decoding: a.line, as: UTF8.self)
        switch a.kind {
        case .withheld: out.insert("withheld \(line)")
        case .synthesized: out.insert("synthesized \(line)")
        case .injected: if !line.hasPrefix("▸") { out.insert("injected \(line)") }
        case .held: out.insert("held message")
        case .rewritten where a.isReply:
            // A rewritten multi-line reply: name the line the proxy rewrote, if it is in there.
            let hits = proxy.filter { $0.hasPrefix("rewritten reply ") && line.contains($0.dropFirst("rewritten reply ".count)) }
            out.formUnion(hits.isEmpty ? ["rewritten reply \(line)"] : hits)
        case .rewritten:
            out.insert("rewritten command \(String(decoding: a.counterpart ?? [], as: UTF8.self))")
        case .relayed, .divergent: break
        }
    }
    return out
}

@Suite struct InterceptTests {
    /// Both legs in one capture (dumpcap on both interfaces of the middlebox).
    @Test(arguments: middleboxModes)
    func bothLegsInOneCapture(mode: String) throws {
        let (c, found) = intercepts([capturesDir.appendingPathComponent("middlebox-\(mode)-both-legs.pcapng").path])
        let truthSessions = (loadJSON(capturesDir.appendingPathComponent("middlebox-\(mode)-both-legs.truth.json"))?["sessions"] as? [Any])?.count
        #expect(c.sessions.count == truthSessions)
        let x = try #require(found.first, "\(mode): no intercept found")
        #expect(x.serverLegs.count == c.sessions.count - 1, "\(mode): every server connection is a server leg")
        #expect(found.count == 1)
        let truth = try #require(loadJSON(capturesDir.appendingPathComponent("middlebox-\(mode)-both-legs.truth.json")))
        let legs = try #require(truth["sessions"] as? [[String: Any]])
        let clientLeg = try #require(legs.first { $0["leg"] as? String == "client" })
        #expect(x.clientEndpoints.client.description == clientLeg["client"] as? String, "\(mode): the client leg is the client's")
        #expect(x.clock.sameClock)
        // Every injected, synthesized, withheld, held and rewritten line the proxy logged is found,
        // and nothing else is called so.
        let expected = try proxyActions(mode)
        #expect(ourActions(x, proxy: expected) == expected, "\(mode)")
    }

    @Test func verdictsSayWhatHappened() throws {
        func verdict(_ mode: String) -> String {
            intercepts([capturesDir.appendingPathComponent("middlebox-\(mode)-both-legs.pcapng").path]).1.first?.verdict.description ?? ""
        }
        let saf = verdict("store-and-forward")
        #expect(saf.hasPrefix("store-and-forward scanner: answered DATA itself, held the message"))
        #expect(saf.contains("2 RSETs"))
        #expect(saf.contains("replayed the transaction"))
        #expect(saf.contains("before the server had the message"))
        let inline = verdict("inline-rewriter")
        #expect(inline.contains("masked the banner"))
        #expect(inline.contains("XXXXXXXA"))
        #expect(inline.contains("overwrote \"VRFY bob@example.org\" with X"))
        #expect(verdict("starttls-answered").contains("answered STARTTLS itself"))
        #expect(verdict("plain-relay").hasPrefix("transparent relay"))
        #expect(verdict("reconnect").contains("held the message"))
    }

    /// Two captures, one per leg, on one clock.
    @Test(arguments: middleboxModes)
    func legsInTwoCaptures(mode: String) throws {
        let paths = ["client", "server"].map { capturesDir.appendingPathComponent("middlebox-\(mode)-\($0)-leg.pcap").path }
        let (_, found) = intercepts(paths)
        let x = try #require(found.first, "\(mode)")
        #expect(!x.clock.sameClock)
        // Both captures were taken on one machine: the true offset, 0, lies within the estimate's
        // stated uncertainty (half the time the middlebox took both ways; 20 ms for the scanner,
        // whose server is 20 ms away).
        #expect(abs(x.clock.seconds) <= x.clock.uncertainty + 0.001, "offset \(x.clock.seconds) ± \(x.clock.uncertainty)")
        #expect(x.clock.uncertainty < 0.05)
        // Given the other way round, the client leg is still found by causality.
        let (_, reversed) = intercepts(paths.reversed())
        #expect(reversed.first?.clientEndpoints.client == x.clientEndpoints.client)
    }

    /// The server-leg capture's clock is set 317.25 s ahead and runs 40 ppm fast.
    @Test(arguments: middleboxModes)
    func clockOffsetIsEstimated(mode: String) throws {
        let server = capturesDir.appendingPathComponent("middlebox-\(mode)-server-leg.pcap")
        let shifted = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-shifted-\(mode)-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: shifted) }
        try shiftPcap(server, to: shifted, offset: 317.25, driftPPM: 40)
        let (_, found) = intercepts([capturesDir.appendingPathComponent("middlebox-\(mode)-client-leg.pcap").path, shifted.path])
        let x = try #require(found.first, "\(mode)")
        #expect(abs(x.clock.seconds - 317.25) <= x.clock.uncertainty + 0.001, "\(mode): offset \(x.clock.seconds) ± \(x.clock.uncertainty)")
        #expect(x.clock.uncertainty < 0.05)
        // The labels do not depend on the clocks.
        let (_, sameClock) = intercepts(["client", "server"].map { capturesDir.appendingPathComponent("middlebox-\(mode)-\($0)-leg.pcap").path })
        #expect(x.actions.map(\.kind) == sameClock.first?.actions.map(\.kind))
    }

    /// The acceptance case for clock drift within one connection: the server-leg capture's clock
    /// set 137.25 s ahead and running 200 ppm fast. The lab's sessions last about 5 s; 1000 ppm
    /// over them moves the clock as far as 200 ppm over a 25 s store-and-forward session (5 ms).
    /// Every pair is found and every line keeps the label it has on one clock.
    @Test(arguments: middleboxModes, [200.0, 1000.0])
    func labelsSurviveOffsetAndDrift(mode: String, ppm: Double) throws {
        let server = capturesDir.appendingPathComponent("middlebox-\(mode)-server-leg.pcap")
        let shifted = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-drift\(Int(ppm))-\(mode)-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: shifted) }
        try shiftPcap(server, to: shifted, offset: 137.25, driftPPM: ppm)
        let client = capturesDir.appendingPathComponent("middlebox-\(mode)-client-leg.pcap").path
        let (_, found) = intercepts([client, shifted.path])
        let (_, unshifted) = intercepts([client, server.path])
        let x = try #require(found.first, "\(mode): no pair with the drifting clock")
        let y = try #require(unshifted.first, "\(mode): no pair on one clock")
        #expect(found.count == unshifted.count)
        #expect(abs(x.clock.seconds - 137.25) <= x.clock.uncertainty + 0.005, "\(mode): offset \(x.clock.seconds) ± \(x.clock.uncertainty)")
        func labels(_ i: Intercept) -> [String] {
            i.actions.map { "\($0.kind.rawValue) \($0.leg.rawValue) \(String(decoding: $0.line, as: UTF8.self))" }.sorted()
        }
        #expect(labels(x) == labels(y), "\(mode)")
        let expected = try proxyActions(mode)
        #expect(ourActions(x, proxy: expected) == expected, "\(mode)")
    }

    /// Unrelated sessions are never paired: all the other projects' captures read together, and
    /// the direct (un-intercepted) captures of Captures/ read together.
    /// On one clock, sessions that nothing still open overlaps are paired and let go as the
    /// horizon passes them; the intercept found is the one found holding everything to the end.
    @Test func oneClockLetsGoOfSessionsNoOpenConnectionOverlaps() throws {
        let (c, _) = analyze([capturesDir.appendingPathComponent("middlebox-store-and-forward-both-legs.pcapng").path])
        let held = InterceptFinder()
        for s in c.sessions { held.add(s, transactions: c.transactions(of: s)) }
        let expected = try #require(held.finish().first)

        let finder = InterceptFinder()
        finder.oneClock = true
        for s in c.sessions { finder.add(s, transactions: c.transactions(of: s)) }
        // Later sessions (copies of one leg, a minute on), enough to make letting go worth it.
        let last = try #require(c.sessions.map(\.end).max())
        for i in 0..<300 {
            var s = c.sessions[0]
            s.id = 10_000 + i
            s.start = last.adding(seconds: 60 + Double(i) / 1000)
            s.end = s.start.adding(seconds: 1)
            finder.add(s, transactions: [])
        }
        #expect(finder.sessionsHeld == c.sessions.count + 300)
        let first = try #require(c.sessions.map(\.start).min())
        finder.horizon(first)
        #expect(finder.sessionsHeld == c.sessions.count + 300, "a connection open since the first leg began may still be a leg")
        finder.horizon(last.adding(seconds: 30))
        #expect(finder.sessionsHeld == 300, "the legs ended long before anything still open began")
        let found = finder.finish()
        #expect(found.count == 1)
        #expect(found.first?.clientLeg == expected.clientLeg)
        #expect(found.first?.serverLegs == expected.serverLegs)
    }

    @Test func noPairsBetweenUnrelatedSessions() throws {
        let peers = !peerCapturesExpected ? [] : try FileManager.default.subpathsOfDirectory(atPath: peerDir.path)
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.map { peerDir.appendingPathComponent($0).path }
        #expect(peers.count >= 30 || !peerCapturesExpected)
        #expect(intercepts(peers).1.isEmpty)
        let direct = try FileManager.default.contentsOfDirectory(atPath: capturesDir.path)
            .filter { ($0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng")) && !$0.hasPrefix("middlebox-") && !$0.hasPrefix("tls-intercepting-shield") }
            .map { capturesDir.appendingPathComponent($0).path }
        #expect(intercepts(direct).1.isEmpty)
        // The same message delivered by two clients, at overlapping times and one after the other.
        for name in ["two-clients-same-message.pcap", "two-clients-same-message-sequential.pcap"] {
            let (c, found) = intercepts([capturesDir.appendingPathComponent(name).path])
            #expect(c.sessions.count == 2)
            #expect(found.isEmpty, "\(name)")
        }
    }

    /// A middlebox keeps the Message-ID: the same legs, but with the server leg's messages given
    /// other IDs, are two dialogues that look alike (as the sessions of one busy sender do).
    @Test func legsCarryingDifferentMessagesDoNotPair() throws {
        let (c, found) = intercepts([capturesDir.appendingPathComponent("middlebox-plain-relay-both-legs.pcapng").path])
        let server = try #require(found.first?.serverLegs.first)
        let finder = InterceptFinder()
        var renamed = 0
        for s in c.sessions {
            var txns = c.transactions(of: s)
            if s.id == server {
                for k in txns.indices where txns[k].headers?.messageID != nil {
                    txns[k].headers?.messageID = "<other-\(k)@example.net>"
                    renamed += 1
                }
            }
            finder.add(s, transactions: txns)
        }
        #expect(renamed > 0)
        #expect(finder.finish().isEmpty)
    }

    @Test func pairingCanBeTurnedOff() {
        let path = capturesDir.appendingPathComponent("middlebox-plain-relay-both-legs.pcapng").path
        #expect(intercepts([path], mode: .never).1.isEmpty)
    }
}

/// Rewrites a classic pcap's timestamps: t' = t0 + (t − t0)·(1 + drift) + offset.
func shiftPcap(_ from: URL, to: URL, offset: Double, driftPPM: Double) throws {
    var data = [UInt8](try Data(contentsOf: from))
    let magic = UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16 | UInt32(data[3]) << 24
    let little = magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d
    let nano = magic == 0xa1b2_3c4d || magic == 0x4d3c_b2a1
    func u32(_ i: Int) -> UInt32 {
        let v = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        return little ? v : v.byteSwapped
    }
    func put(_ i: Int, _ v: UInt32) {
        let w = little ? v : v.byteSwapped
        for k in 0..<4 { data[i + k] = UInt8(truncatingIfNeeded: w >> (8 * UInt32(k))) }
    }
    let unit = nano ? 1e9 : 1e6
    var i = 24
    var t0: Double?
    while i + 16 <= data.count {
        let t = Double(u32(i)) + Double(u32(i + 4)) / unit
        t0 = t0 ?? t
        let shifted = t0! + (t - t0!) * (1 + driftPPM / 1e6) + offset
        let secs = shifted.rounded(.down)
        put(i, UInt32(secs))
        put(i + 4, UInt32(((shifted - secs) * unit).rounded(.down)))
        i += 16 + Int(u32(i + 8))
    }
    try Data(data).write(to: to)
}

/// Several classic pcaps (one link type) merged into one, records in time order.
func mergePcaps(_ sources: [URL], to destination: URL) throws {
    var header: [UInt8] = []
    var records: [(Double, [UInt8])] = []
    for url in sources {
        let d = [UInt8](try Data(contentsOf: url))
        if header.isEmpty { header = Array(d[0..<24]) }
        var i = 24
        func u32(_ k: Int) -> Int { Int(d[k]) | Int(d[k + 1]) << 8 | Int(d[k + 2]) << 16 | Int(d[k + 3]) << 24 }
        while i + 16 <= d.count {
            let len = u32(i + 8)
            records.append((Double(u32(i)) + Double(u32(i + 4)) / 1e6, Array(d[i..<(i + 16 + len)])))
            i += 16 + len
        }
    }
    records.sort { $0.0 < $1.0 }
    try Data(header + records.flatMap(\.1)).write(to: destination)
}

@Suite struct ClockDriftTests {
    /// Four intercepted connections, the server-leg capture's clock 317.25 s ahead and running
    /// 500 ppm fast: each offset is found, and the drift from all of them.
    @Test func driftOverALongCaptureIsEstimated() throws {
        let tmp = FileManager.default.temporaryDirectory
        let client = tmp.appendingPathComponent("smtpscope-drift-client-\(getpid()).pcap")
        let server = tmp.appendingPathComponent("smtpscope-drift-server-\(getpid()).pcap")
        let shifted = tmp.appendingPathComponent("smtpscope-drift-shifted-\(getpid()).pcap")
        defer { for u in [client, server, shifted] { try? FileManager.default.removeItem(at: u) } }
        let modes = ["store-and-forward", "inline-rewriter", "starttls-answered", "plain-relay"]
        try mergePcaps(modes.map { capturesDir.appendingPathComponent("middlebox-\($0)-client-leg.pcap") }, to: client)
        try mergePcaps(modes.map { capturesDir.appendingPathComponent("middlebox-\($0)-server-leg.pcap") }, to: server)
        try shiftPcap(server, to: shifted, offset: 317.25, driftPPM: 500)
        let (_, found) = intercepts([client.path, shifted.path])
        #expect(found.count == 4)
        // The server-leg clock runs from its first packet, about when the first intercept began.
        let t0 = try #require(found.map(\.start).min())
        for x in found {
            // The true offset at that moment (317.25 s plus the drift since t0: the four captures
            // were made apart, seconds or hours) lies within the estimate's stated uncertainty.
            let truth = 317.25 + 500e-6 * x.start.seconds(since: t0)
            #expect(abs(x.clock.seconds - truth) <= x.clock.uncertainty + 0.002, "offset \(x.clock.seconds) ± \(x.clock.uncertainty), expected \(truth)")
            #expect(x.clock.uncertainty < 0.05)
            let drift = try #require(x.clock.driftPPM)
            #expect(abs(drift - 500) < 50, "drift \(drift) ppm")
        }
    }
}

/// Runs the pipeline and the pairing; the connections found captured twice and the intercepts.
func connectionsSeenTwice(_ paths: [String]) -> (Collector, [SameConnection], [Intercept]) {
    let (c, _) = analyze(paths)
    let finder = InterceptFinder()
    for s in c.sessions { finder.add(s, transactions: c.transactions(of: s)) }
    let found = finder.finish()
    return (c, finder.connectionsSeenTwice, found)
}

/// Rewrites a classic Ethernet/IPv4 pcap's TCP sequence numbers as a firewall that randomises
/// them does (Cisco ASA by default): the client's sequence numbers shifted by `delta`, and the
/// server's acknowledgements of them shifted back. Checksums are left as they are (not checked).
func rewriteSequenceNumbers(_ from: URL, to: URL, clientPort: UInt16, delta: UInt32) throws {
    var data = [UInt8](try Data(contentsOf: from))
    func u16(_ i: Int) -> UInt16 { UInt16(data[i]) << 8 | UInt16(data[i + 1]) }
    func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) << 16 | UInt32(u16(i + 2)) }
    func put(_ i: Int, _ v: UInt32) { for k in 0..<4 { data[i + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(k))) } }
    func le32(_ i: Int) -> Int { Int(data[i]) | Int(data[i + 1]) << 8 | Int(data[i + 2]) << 16 | Int(data[i + 3]) << 24 }
    var i = 24
    while i + 16 <= data.count {
        let len = le32(i + 8), frame = i + 16
        let ip = frame + 14, tcp = ip + Int(data[ip] & 0x0f) * 4
        if len >= 54, data[frame + 12] == 0x08, data[frame + 13] == 0x00, data[ip + 9] == 6 {
            if u16(tcp) == clientPort { put(tcp + 4, u32(tcp + 4) &+ delta) }
            if u16(tcp + 2) == clientPort, data[tcp + 13] & 0x10 != 0 { put(tcp + 8, u32(tcp + 8) &+ delta) }
        }
        i = frame + len
    }
    try Data(data).write(to: to)
}

/// One direct connection captured on the workstation and on the mail server at once (the check
/// an admin makes for a middlebox) is recognised as one connection, never as an intercept.
@Suite struct SameConnectionTests {
    let workstation = capturesDir.appendingPathComponent("double-capture-workstation.pcap")
    let mailserver = capturesDir.appendingPathComponent("double-capture-mailserver.pcap")

    @Test func oneConnectionCapturedAtBothEndsIsNoIntercept() throws {
        for paths in [[workstation.path, mailserver.path], [mailserver.path, workstation.path]] {
            let (c, links, found) = connectionsSeenTwice(paths)
            #expect(c.sessions.count == 2)
            #expect(found.isEmpty, "no intercept")
            let x = try #require(links.first)
            #expect(links.count == 1)
            #expect(x.relation == .unchanged)
            #expect(x.verdict.hasPrefix("no middlebox: the same connection"))
            // The workstation's copy carries each command first.
            let near = try #require(c.sessions.first { $0.id == x.nearClient })
            #expect(paths[near.vantage.file] == workstation.path)
            // One machine, one clock: the true offset, 0, lies within the estimate.
            #expect(abs(x.clock.seconds) <= x.clock.uncertainty + 0.0001)
            #expect((x.transit ?? 0) > 0 && (x.transit ?? 1) < 0.001, "one router between the points")
        }
    }

    @Test func theClockOffsetBetweenTheCapturesIsMeasured() throws {
        let shifted = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-same-shifted-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: shifted) }
        try shiftPcap(mailserver, to: shifted, offset: 137.25, driftPPM: 200)
        let (_, links, found) = connectionsSeenTwice([workstation.path, shifted.path])
        #expect(found.isEmpty)
        let x = try #require(links.first)
        #expect(abs(x.clock.seconds - 137.25) <= x.clock.uncertainty + 0.0001, "offset \(x.clock.seconds) ± \(x.clock.uncertainty)")
        #expect(x.clock.uncertainty < 0.001)
    }

    /// The workstation's capture dropped a segment of the message; the server's capture has it.
    @Test func aPacketOneCaptureDroppedIsInTheOther() throws {
        let dropped = capturesDir.appendingPathComponent("double-capture-workstation-dropped.pcap")
        let (c, links, found) = connectionsSeenTwice([dropped.path, mailserver.path])
        #expect(found.isEmpty)
        let x = try #require(links.first)
        let near = try #require(c.sessions.first { $0.id == x.nearClient })
        #expect(near.gapBytes == [1448, 0])
        #expect(x.gapBytes == [1448, 0])
        #expect(x.gapBytesInOtherCopy == [1448, 0])
        #expect(x.verdict.contains("lost 1448 bytes in gaps, which session \(x.nearServer) holds"))
    }

    /// NAT between the two capture points: addresses and ports differ, the connection is the same.
    @Test func addressTranslationBetweenThePointsIsSaid() throws {
        let paths = ["workstation", "mailserver"].map { capturesDir.appendingPathComponent("nat-double-capture-\($0).pcap").path }
        let (c, links, found) = connectionsSeenTwice(paths)
        #expect(c.sessions.count == 2)
        #expect(found.isEmpty)
        let x = try #require(links.first)
        #expect(x.relation == .addressTranslation)
        #expect(x.nearClientEndpoints.server.description == "198.51.100.100:25")
        #expect(x.nearServerEndpoints.client.description.hasPrefix("198.51.100.1:"))
        #expect(x.verdict.contains("client address, client port, server address changed"))
    }

    /// A firewall that randomises sequence numbers between the points: the handshake's TCP
    /// timestamps still tie the two copies.
    @Test func rewrittenSequenceNumbersAreSaid() throws {
        let rewritten = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-seq-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: rewritten) }
        let (c0, _) = analyze([mailserver.path])
        let port = try #require(c0.sessions.first?.client.port)
        try rewriteSequenceNumbers(mailserver, to: rewritten, clientPort: port, delta: 0x1234_5678)
        let (c, links, found) = connectionsSeenTwice([workstation.path, rewritten.path])
        #expect(Set(c.sessions.compactMap { $0.tcp[0].isn }).count == 2, "the copies' client sequence numbers differ")
        #expect(found.isEmpty)
        let x = try #require(links.first)
        #expect(x.relation == .sequenceRewritten)
    }

    /// Two clients sending the same message at once are two connections.
    @Test func twoConnectionsAreNotOne() {
        let (_, links, _) = connectionsSeenTwice([capturesDir.appendingPathComponent("two-clients-same-message.pcap").path])
        #expect(links.isEmpty)
        let legs = ["client", "server"].map { capturesDir.appendingPathComponent("middlebox-plain-relay-\($0)-leg.pcap").path }
        let (_, none, found) = connectionsSeenTwice(legs)
        #expect(none.isEmpty)
        #expect(found.count == 1)
    }
}

/// A client that reads the EHLO reply and gives up (it requires TLS and STARTTLS was masked)
/// sends EHLO and QUIT only; its legs are still paired.
@Suite struct ClientGivesUpTests {
    @Test(arguments: ["middlebox-gives-up", "middlebox-gives-up-new-port"])
    func legsOfAClientThatGivesUpPair(name: String) throws {
        let legs = ["client", "server"].map { capturesDir.appendingPathComponent("\(name)-\($0)-leg.pcap").path }
        for paths in [legs, [capturesDir.appendingPathComponent("\(name)-both-legs.pcapng").path]] {
            let (_, found) = intercepts(paths)
            let x = try #require(found.first, "\(paths)")
            #expect(x.verdict.maskedStartTLS)
            #expect(x.actions.filter { !$0.isReply }.allSatisfy { $0.kind == .relayed })
        }
    }

    /// A middlebox that strips STARTTLS and leaves the banner alone (as ISPs were found doing):
    /// the client leg of the lab capture with the banner as the server wrote it. Nothing but the
    /// greeting ties the legs: they pair on timing, and the evidence says so.
    @Test func pairsOnTimingWhenContentIsTooThin() throws {
        let client = capturesDir.appendingPathComponent("middlebox-gives-up-client-leg.pcap")
        let patched = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-gives-up-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: patched) }
        var bytes = [UInt8](try Data(contentsOf: client))
        let masked = Array("220 ****************************".utf8), banner = Array("220 mx.example.org ESMTP Postfix".utf8)
        let at = try #require((0...(bytes.count - masked.count)).first { Array(bytes[$0..<($0 + masked.count)]) == masked })
        bytes.replaceSubrange(at..<(at + masked.count), with: banner)
        try Data(bytes).write(to: patched)
        let server = capturesDir.appendingPathComponent("middlebox-gives-up-server-leg.pcap").path
        let (_, found) = intercepts([patched.path, server])
        let x = try #require(found.first)
        #expect(x.evidence.contains { $0.hasPrefix("paired on timing") })
        #expect(x.verdict.maskedStartTLS)
        #expect(!x.verdict.maskedBanner)
        // Only unambiguous timing pairs: a second session with the same greeting at the same time
        // (the server leg's copy, read again) leaves it unpaired.
        let (_, ambiguous) = intercepts([patched.path, server, server])
        #expect(ambiguous.isEmpty)
    }
}

/// The workstation's capture dropped a segment the server's capture holds: read together on the
/// command line, the two copies are decoded as one and the transaction comes out whole.
@Suite struct CombinedCopiesTests {
    @Test func aGapIsFilledFromTheOtherCapture() throws {
        let dropped = capturesDir.appendingPathComponent("double-capture-workstation-dropped.pcap").path
        let server = capturesDir.appendingPathComponent("double-capture-mailserver.pcap").path
        let r = try runCLI(["read", "--format", "json", dropped, server])
        #expect(r.status == 0)
        let records = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let link = try #require(records.first { $0["type"] as? String == "same_connection" })
        let combined = try #require(link["combined_session"] as? Int)
        let session = try #require(records.first { $0["type"] as? String == "session" && $0["session"] as? Int == combined })
        #expect((session["combined_from"] as? [Int])?.count == 2)
        let gaps = try #require(session["gaps"] as? [String: Any])
        #expect(gaps["client_bytes"] as? Int == 0, "the dropped segment is back")
        let txns = records.filter { $0["type"] as? String == "transaction" && $0["session"] as? Int == combined }
        #expect(txns.count == 1)
        // The same message as the mail server's complete copy, byte for byte in size.
        let complete = try #require(records.first { $0["type"] as? String == "transaction" && $0["session"] as? Int == link["near_server"].flatMap { ($0 as? [String: Any])?["session"] as? Int } })
        #expect(txns.first?["size"] as? Int == complete["size"] as? Int)
        #expect(txns.first?["outcome"] as? String == "queued")
        #expect(txns.first?["message_complete"] as? Bool == true)
        // The server's capture on a clock 137.25 s ahead, 200 ppm fast: its segments are brought
        // onto the workstation's clock before they fill the gap.
        let shifted = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-fill-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: shifted) }
        try shiftPcap(URL(fileURLWithPath: server), to: shifted, offset: 137.25, driftPPM: 200)
        let s = try runCLI(["read", "--format", "json", dropped, shifted.path])
        let again = s.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let id = try #require(again.first { $0["type"] as? String == "same_connection" }?["combined_session"] as? Int)
        let t = try #require(again.first { $0["type"] as? String == "transaction" && $0["session"] as? Int == id })
        #expect(t["message_complete"] as? Bool == true)
        #expect(t["size"] as? Int == complete["size"] as? Int)
        // Without a gap to fill, nothing is decoded twice.
        let plain = try runCLI(["read", "--format", "json", capturesDir.appendingPathComponent("double-capture-workstation.pcap").path, server])
        #expect(plain.stdout.contains("\"combined_session\":null"))
    }
}

/// A TLS-intercepting mail shield (the lab's, with its own root CA, modelled on Avast/AVG Mail
/// Shield and ESET SSL/TLS filtering): paired and reported with the mail client's and the
/// shield's keys, and without keys, where only the handshakes and the timing show it.
@Suite struct TLSInterceptionTests {
    func intercept(_ arguments: [String]) throws -> [String: Any] {
        let r = try runCLI(["read", "--format", "json"] + arguments)
        #expect(r.status == 0, "\(r.stderr)")
        let records = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        return try #require(records.first { $0["type"] as? String == "intercept" }, "no intercept in \(arguments)")
    }

    @Test(arguments: [true, false])
    func aShieldIsPairedAndReported(keys: Bool) throws {
        let legs = [["Captures/tls-intercepting-shield-both-legs.pcapng"],
                    ["Captures/tls-intercepting-shield-client-leg.pcap", "Captures/tls-intercepting-shield-server-leg.pcap"]]
        for paths in legs {
            let x = try intercept((keys ? ["--keylog", "Captures/tls-intercepting-shield.keys"] : []) + paths)
            let verdict = try #require(x["verdict"] as? String)
            let findings = (x["findings"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(findings.contains("intercepted-tls"), "\(paths)")
            // The shield's ClientHello is Python's, not msmtp's: visible with and without keys.
            #expect(verdict.contains("the server got a ClientHello of its own"))
            if keys {
                // Decrypted: the certificate the client got (TLS 1.3: encrypted otherwise), and the
                // footer the shield added to the message.
                #expect(verdict.contains("issued by \"CN=Lab Mail Shield Root CA\""))
                #expect(verdict.contains("rewrote the message (size 323 → 356 octets)"))
            } else {
                #expect((x["evidence"] as? [String] ?? []).contains { $0.hasPrefix("paired on timing") })
            }
        }
    }

    /// A plain relay of TLS-less SMTP is not called TLS interception.
    @Test func plainLegsAreNotTLSInterception() throws {
        let x = try intercept(["Captures/middlebox-plain-relay-both-legs.pcapng"])
        #expect(!(x["verdict"] as? String ?? "").contains("TLS"))
    }
}

extension TLSInterceptionTests {
    /// The mail client's key log, and a capture of what left its host: none of the client's keys
    /// opens a handshake on the wire, because the shield ended the client's TLS and spoke its own.
    @Test func aKeyLogThatMatchesNoHandshakeIsSaid() throws {
        let r = try runCLI(["read", "--format", "json", "--keylog", "Captures/tls-intercepting-shield-client-leg.keys", "Captures/tls-intercepting-shield-server-leg.pcap"])
        #expect(r.stdout.contains("\"type\":\"finding\""))
        #expect(r.stdout.contains("\"id\":\"keylog-matches-no-handshake\""))
        let matching = try runCLI(["read", "--format", "json", "--keylog", "Captures/tls-intercepting-shield-client-leg.keys", "Captures/tls-intercepting-shield-client-leg.pcap"])
        #expect(!matching.stdout.contains("keylog-matches-no-handshake"))
        let none = try runCLI(["read", "--format", "json", "Captures/tls-intercepting-shield-server-leg.pcap"])
        #expect(!none.stdout.contains("keylog-matches-no-handshake"), "no key log given, nothing to say")
    }
}
