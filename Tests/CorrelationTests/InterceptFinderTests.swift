import Correlation
import SMTP
import Vocabulary
import Sessions
import Testing

/// One leg built in code: a SessionBuilder fed "C: …"/"S: …" lines, `step` seconds apart from
/// `start`, between `client` and `server` as captured at `vantage`; commands are seen `commandDelay`
/// and replies `replyDelay` after their step (a capture on the middlebox sees a client-leg command
/// before its server-leg copy, and a server-leg reply before its client-leg copy).
func leg(_ id: Int, _ lines: [String], client: Endpoint, server: Endpoint, vantage: Vantage = Vantage(file: 0), start: Double, step: Double = 0.01,
         commandDelay: Double = 0, replyDelay: Double = 0, isn: [UInt32]? = nil) -> (Session, [Transaction]) {
    let t0 = Timestamp(nanoseconds: Int64(start * 1e9))
    var s = Session(id: id, client: client, server: server, vantage: vantage, start: t0, end: t0)
    if let isn {
        s.tcp[0].isn = isn[0]
        s.tcp[1].isn = isn[1]
    }
    let b = SessionBuilder(session: s)
    var txns: [Transaction] = []
    var t = start
    for line in lines {
        t += step
        let command = line.hasPrefix("C: ")
        let seen = t + (command ? commandDelay : replyDelay)
        Array((line.dropFirst(3) + "\r\n").utf8).withUnsafeBytes { b.receive(command ? .toServer : .toClient, $0, at: Timestamp(nanoseconds: Int64(seen * 1e9))) }
        txns += b.takeFinished()
    }
    let done = b.close(reason: .fin, at: Timestamp(nanoseconds: Int64((t + step) * 1e9)))
    return (done, txns + b.takeFinished())
}

let workstation = Endpoint(.v4(0xc000_020a), 50000)
let mailServer = Endpoint(.v4(0xc633_6419), 25)
let proxy = Endpoint(.v4(0xc000_02fe), 41000)

func dialogue(banner: String = "220 mx.example.org ESMTP", from: String = "alice@example.net", to: String = "bob@example.org", messageID: String = "<m1@ws.example.net>") -> [String] {
    [
        "S: \(banner)", "C: EHLO ws.example.net", "S: 250-mx.example.org", "S: 250 PIPELINING",
        "C: MAIL FROM:<\(from)>", "S: 250 ok", "C: RCPT TO:<\(to)>", "S: 250 ok", "C: DATA", "S: 354 go",
        "C: Message-ID: \(messageID)", "C: Subject: report", "C: ", "C: body", "C: .", "S: 250 ok queued as Q1",
        "C: QUIT", "S: 221 bye",
    ]
}

/// InterceptFinder on sessions built in code: two legs of one relayed dialogue pair, unrelated
/// sessions do not, and one connection captured twice is no intercept.
@Suite struct InterceptFinderTests {
    @Test func twoLegsOfOneRelayedDialoguePair() throws {
        let finder = InterceptFinder()
        finder.oneClock = true
        let client = leg(1, dialogue(), client: workstation, server: mailServer, start: 0, replyDelay: 0.001)
        let server = leg(2, dialogue(), client: proxy, server: mailServer, start: 0, commandDelay: 0.001)
        finder.add(client.0, transactions: client.1)
        finder.add(server.0, transactions: server.1)
        let found = finder.finish()
        let x = try #require(found.first)
        #expect(found.count == 1)
        #expect(x.clientLeg == 1 && x.serverLegs == [2])
        #expect(x.score >= 6)
        #expect(x.clock.sameClock)
        #expect(x.verdict.kind == .transparentRelay, "\(x.verdict)")
        #expect(x.actions.allSatisfy { $0.kind == .relayed }, "\(x.actions.map(\.kind))")
    }

    @Test func unrelatedSessionsDoNotPair() {
        let finder = InterceptFinder()
        let a = leg(1, dialogue(), client: workstation, server: mailServer, start: 0)
        let b = leg(2, dialogue(from: "carol@example.com", to: "dave@example.com", messageID: "<other@example.com>"), client: proxy, server: mailServer, start: 0.002)
        finder.add(a.0, transactions: a.1)
        finder.add(b.0, transactions: b.1)
        #expect(finder.finish().isEmpty)
    }

    @Test func pairingTurnedOffFindsNothing() {
        let finder = InterceptFinder(mode: .never)
        let a = leg(1, dialogue(), client: workstation, server: mailServer, start: 0)
        let b = leg(2, dialogue(), client: proxy, server: mailServer, start: 0.002)
        finder.add(a.0, transactions: a.1)
        finder.add(b.0, transactions: b.1)
        #expect(finder.finish().isEmpty)
        #expect(finder.sessionsHeld == 0)
    }

    @Test func aMaskedBannerIsSaidInTheVerdict() throws {
        let finder = InterceptFinder()
        finder.oneClock = true
        let client = leg(1, dialogue(banner: "220 ************************"), client: workstation, server: mailServer, start: 0, replyDelay: 0.001)
        let server = leg(2, dialogue(), client: proxy, server: mailServer, start: 0, commandDelay: 0.001)
        finder.add(client.0, transactions: client.1)
        finder.add(server.0, transactions: server.1)
        let x = try #require(finder.finish().first)
        #expect(x.verdict.maskedBanner)
        #expect(x.actions.contains { $0.kind == .rewritten && $0.leg == .client })
    }

    @Test func oneConnectionCapturedTwiceIsNoIntercept() throws {
        let finder = InterceptFinder()
        let near = leg(1, dialogue(), client: workstation, server: mailServer, vantage: Vantage(file: 0), start: 0, isn: [1000, 5000])
        let far = leg(2, dialogue(), client: workstation, server: mailServer, vantage: Vantage(file: 1), start: 0.004, isn: [1000, 5000])
        finder.add(near.0, transactions: near.1)
        finder.add(far.0, transactions: far.1)
        #expect(finder.finish().isEmpty)
        let same = try #require(finder.connectionsSeenTwice.first)
        #expect(finder.connectionsSeenTwice.count == 1)
        #expect(Set([same.nearClient, same.nearServer]) == [1, 2])
        #expect(same.relation == .unchanged)
        #expect(!same.clock.sameClock)
    }

    /// A connection seen twice whose only distinctive line is one that many sessions share (a
    /// client that sends EHLO and QUIT, among a hundred that greet alike) is still recognised: its
    /// copies share the client's initial sequence number, and are judged for that alone.
    @Test func aConnectionSeenTwiceIsFoundAmongLookAlikes() throws {
        let finder = InterceptFinder()
        let lines = ["S: 220 mx.example.org ESMTP", "C: EHLO ws.example.net", "S: 250 mx.example.org", "C: QUIT", "S: 221 bye"]
        for k in 0..<100 {
            let s = leg(k + 1, lines, client: Endpoint(.v4(0xc000_020a), UInt16(40000 + k)), server: mailServer, vantage: Vantage(file: 0),
                        start: Double(k) * 0.1, isn: [UInt32(1000 + k), UInt32(9000 + k)])
            finder.add(s.0, transactions: s.1)
        }
        let copy = leg(101, lines, client: Endpoint(.v4(0xc000_020a), 40050), server: mailServer, vantage: Vantage(file: 1), start: 5.0 + 2.5,
                       replyDelay: -0.0002, isn: [1050, 9050])
        finder.add(copy.0, transactions: copy.1)
        #expect(finder.finish().isEmpty)
        let same = try #require(finder.connectionsSeenTwice.first, "the copies share a common greeting only")
        #expect(finder.connectionsSeenTwice.count == 1)
        #expect(Set([same.nearClient, same.nearServer]) == [51, 101])
        #expect(abs(same.clock.seconds - 2.5) < 0.01)
    }
}
