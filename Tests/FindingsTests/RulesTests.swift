import Findings
import SMTP
import Vocabulary
import Sessions
import Testing

/// A session built in code: "C: …"/"S: …" lines fed to a SessionBuilder at `step` seconds apart
/// ("GAP n" on the client side loses n bytes), closed with `close`.
func session(_ lines: [String], step: Double = 0.01, close: CloseReason = .fin) -> (Session, [Transaction]) {
    let b = SessionBuilder(session: Session(id: 3, client: Endpoint(.v4(0xc000_020a), 50000), server: Endpoint(.v4(0xc633_6419), 25), vantage: Vantage(file: 0), start: .zero, end: .zero))
    var txns: [Transaction] = []
    var t = 0.0
    for line in lines {
        t += step
        let time = Timestamp(nanoseconds: Int64(t * 1e9))
        if line.hasPrefix("GAP ") {
            b.gap(.toServer, length: Int(line.dropFirst(4)) ?? 1, at: time)
        } else {
            Array((line.dropFirst(3) + "\r\n").utf8).withUnsafeBytes { b.receive(line.hasPrefix("C: ") ? .toServer : .toClient, $0, at: time) }
        }
        txns += b.takeFinished()
    }
    let s = b.close(reason: close, at: Timestamp(nanoseconds: Int64((t + step) * 1e9)))
    return (s, txns + b.takeFinished())
}

func findings(_ r: (Session, [Transaction])) -> [Finding] { FindingsEngine.session(r.0, r.1) }
func ids(_ r: (Session, [Transaction])) -> Set<FindingID> { Set(findings(r).map(\.id)) }

let hello = ["S: 220 mx.example.org ESMTP", "C: EHLO ws.example.net", "S: 250-mx.example.org", "S: 250 PIPELINING"]
let mailTo = ["C: MAIL FROM:<a@example.net>", "S: 250 ok", "C: RCPT TO:<b@example.org>", "S: 250 ok"]
let delivered = hello + mailTo + ["C: DATA", "S: 354 go", "C: Subject: x", "C: ", "C: body", "C: .", "S: 250 ok queued as Q1", "C: QUIT", "S: 221 bye"]

/// FindingsEngine on sessions built in code: each rule fires on the dialogue it describes, and
/// not on a clean one.
@Suite struct RulesTests {
    @Test func aCleanDeliveryHasNoFindings() {
        #expect(ids(session(delivered)).isEmpty)
    }

    @Test(arguments: [
        (["S: 220 mx", "C: HELO", "S: 501 syntax", "C: QUIT", "S: 221 bye"], FindingID.heloWithoutHostname),
        (["S: 220 mx", "C: EHLO [203.0.113.9]", "S: 250 mx", "C: QUIT", "S: 221 bye"], .heloLiteralMismatch),
        (["S: 220 mx", "C: EHLO ws", "S: 550 go away", "C: QUIT", "S: 221 bye"], .ehloRefusedNoHelo),
        (["S: 220 mx", "C: EHLO ws", "S: 550 go away", "C: QUIT", "S: 221 bye"], .heloRefusedClientGaveUp),
        (hello + mailTo + ["C: RSET", "S: 250 ok", "C: QUIT", "S: 221 bye"], .rsetAfterRecipients),
        (hello + ["C: RSET", "S: 250 ok", "C: RSET", "S: 250 ok", "C: RSET", "S: 250 ok", "C: QUIT", "S: 221 bye"], .rsetBurst),
        (hello + mailTo + ["C: NOOP", "S: 250 ok", "C: NOOP", "S: 250 ok", "C: QUIT", "S: 221 bye"], .noopKeepalive),
        (["S: 220 ***************************", "C: EHLO ws", "S: 250 mx", "C: QUIT", "S: 221 bye"], .bannerMasked),
        (["S: 220 mx", "C: EHLO ws", "S: 250-mx", "S: 250 XXXXXXXA", "C: QUIT", "S: 221 bye"], .starttlsMasked),
        (hello + ["C: XXXXXXXX", "S: 500 unknown", "C: QUIT", "S: 221 bye"], .commandMasked),
        (["S: 220 mx", "C: EHLO ws", "S: 250-mx", "S: 250 PIPELINING", "C: STARTTLS", "S: 454 not now", "C: QUIT", "S: 221 bye"], .starttlsRefused),
        (["S: 220 mx", "C: EHLO ws", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS", "S: 502 unknown command", "C: QUIT", "S: 221 bye"], .starttlsAnswerInconsistent),
        (hello + ["C: AUTH PLAIN AGFsaWNlAHNlY3JldA==", "S: 235 ok", "C: QUIT", "S: 221 bye"], .cleartextCredentials),
        (["S: 220 mx", "C: EHLO ws", "S: 250 mx", "C: MAIL FROM:<a@x>", "C: RCPT TO:<b@y>", "S: 250 ok", "S: 250 ok", "C: QUIT", "S: 221 bye"], .pipeliningNotOffered),
        (hello + ["S: 250 unasked", "C: QUIT", "S: 221 bye"], .replyWithoutCommand),
        (hello + ["C: NOOP"], .commandsNeverAnswered),
        (hello + ["C: NOOP a\u{0}b", "S: 250 ok", "C: QUIT", "S: 221 bye"], .nulByte),
        (hello, .closedWithoutQuit),
        (hello + mailTo + ["GAP 40", "C: QUIT", "S: 221 bye"], .captureGap),
    ] as [([String], FindingID)])
    func aRuleFiresOnItsDialogue(lines: [String], id: FindingID) {
        let found = findings(session(lines))
        #expect(found.contains { $0.id == id }, "found \(found.map(\.id.rawValue))")
        // Severity from the catalog (the rules that weigh it themselves are not in this list).
        for f in found where f.id == id { #expect(f.severity == Catalog.entry(id).severity) }
        for f in found { #expect(f.session == 3 && !f.message.isEmpty) }
    }

    @Test func resetMidTransactionNeedsTheReset() {
        #expect(ids(session(hello + mailTo, close: .rst)).contains(.rstMidTransaction))
        #expect(!ids(session(hello + mailTo, close: .fin)).contains(.rstMidTransaction))
        #expect(!ids(session(delivered, close: .rst)).contains(.rstMidTransaction))
    }

    @Test func messageOverTheServersSize() {
        let lines = ["S: 220 mx", "C: EHLO ws", "S: 250-mx", "S: 250 SIZE 10"] + mailTo + ["C: DATA", "S: 354 go", "C: Subject: more than ten octets", "C: ", "C: body", "C: .", "S: 552 too big", "C: QUIT", "S: 221 bye"]
        #expect(ids(session(lines)).contains(.messageOverSize))
    }

    @Test func longSilenceIsOverFiveMinutes() {
        #expect(ids(session(hello + ["C: QUIT", "S: 221 bye"], step: 301)).contains(.longSilence))
        #expect(!ids(session(hello + ["C: QUIT", "S: 221 bye"], step: 100)).contains(.longSilence), "a reply spread over two steps is 200 s of silence")
    }

    @Test func findingsComeInTimeOrder() {
        let found = findings(session(["S: 220 ****************", "C: HELO", "S: 501 syntax", "C: EHLO ws", "S: 250 mx", "C: NOOP a\u{0}b", "S: 250 ok"]))
        #expect(found.count >= 3)
        #expect(zip(found, found.dropFirst()).allSatisfy { ($0.time ?? .zero, $0.id) <= ($1.time ?? .zero, $1.id) })
    }
}

/// The catalog explains every id there is, once.
@Suite struct CatalogTests {
    @Test func everyIdHasOneEntryWithAnExplanationAndAReference() {
        #expect(Catalog.all.map(\.id) .count == Set(Catalog.all.map(\.id)).count, "no id twice")
        #expect(Set(Catalog.all.map(\.id)) == Set(FindingID.all), "an entry for every id")
        for e in Catalog.all {
            #expect(e.explanation.count > 60, "\(e.id)")
            #expect(!e.reference.isEmpty && !e.title.isEmpty, "\(e.id)")
            #expect(e.id.rawValue.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
            #expect(Catalog.entry(e.id).title == e.title)
        }
    }

    @Test func explainTakesTheTextId() {
        #expect(Catalog.entry(named: "rset-after-recipients")?.id == .rsetAfterRecipients)
        #expect(Catalog.entry(named: "no-such-finding") == nil)
        #expect(FindingID(rawValue: "capture-gap") == .captureGap)
    }
}
