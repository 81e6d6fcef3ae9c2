import SMTP
import Vocabulary
import Sessions
import Testing

/// A dialogue fed to a SessionBuilder as literal bytes, one millisecond per step: "C: …" from the
/// client, "S: …" from the server.
func build(_ lines: [String], close: CloseReason = .fin) -> (Session, [Transaction]) {
    let b = SessionBuilder(session: Session(id: 7, client: Endpoint(.v4(0xc000_020a), 50000), server: Endpoint(.v4(0xc633_6419), 25), vantage: Vantage(file: 0), start: .zero, end: .zero))
    var txns: [Transaction] = []
    var t: Int64 = 0
    for line in lines {
        t += 1_000_000
        let direction: Direction = line.hasPrefix("C: ") ? .toServer : .toClient
        Array((line.dropFirst(3) + "\r\n").utf8).withUnsafeBytes { b.receive(direction, $0, at: Timestamp(nanoseconds: t)) }
        txns += b.takeFinished()
    }
    let s = b.close(reason: close, at: Timestamp(nanoseconds: t + 1))
    return (s, txns + b.takeFinished())
}

let greeting = ["S: 220 mx.example.org ESMTP", "C: EHLO ws.example.net", "S: 250-mx.example.org", "S: 250 PIPELINING"]
let envelope = ["C: MAIL FROM:<a@example.net>", "S: 250 ok", "C: RCPT TO:<b@example.org>", "S: 250 ok"]

/// The session and transactions a SessionBuilder makes of the decoder's events: outcomes, close
/// reasons, AUTH results and reset causes as typed values.
@Suite struct SessionBuilderTests {
    @Test func queuedMessageAndQuit() throws {
        let (s, t) = build(greeting + envelope + ["C: DATA", "S: 354 go", "C: Subject: hi", "C: ", "C: body", "C: .", "S: 250 2.0.0 Ok: queued as 4XyZ", "C: QUIT", "S: 221 bye"])
        #expect(s.id == 7 && s.helo == "ws.example.net" && s.heloVerb == .ehlo)
        #expect(s.extensions == ["PIPELINING"])
        #expect(s.close == .quit && s.quitSent)
        #expect(s.transactions == 1)
        let x = try #require(t.first)
        #expect(x.outcome == .queued && x.queueID == "4XyZ" && x.mailFrom == "a@example.net" && x.rcptTo == ["b@example.org"])
        #expect(x.headers?.subject == "hi")
        #expect(x.reply?.code == 250 && x.resetBy == nil)
    }

    @Test(arguments: [CloseReason.fin, .rst, .idle, .captureEnd, .portReuse, .tableFull, .ignored])
    func theTCPCloseReasonIsKeptWithoutQuit(reason: CloseReason) {
        let (s, t) = build(greeting + envelope, close: reason)
        #expect(s.close == reason)
        // The open transaction: abandoned when the connection closed, incomplete when the capture
        // ended or it went idle (RFC 5321 §3.3 has no outcome for either).
        #expect(t.first?.outcome == (reason == .captureEnd || reason == .idle ? .incomplete : .abandoned))
    }

    @Test func quitAnsweredWinsOverTheTCPReason() {
        #expect(build(greeting + ["C: QUIT", "S: 221 bye"], close: .rst).0.close == .quit)
        let (s, _) = build(greeting + ["C: QUIT"], close: .fin)
        #expect(s.close == .fin && s.quitSent)
    }

    @Test(arguments: [
        (["C: RSET", "S: 250 ok"], Transaction.ResetCause.rset),
        (["C: EHLO again", "S: 250 mx"], .ehlo),
        (["C: HELO again", "S: 250 mx"], .helo),
        (["C: STARTTLS", "S: 220 go ahead"], .starttls),
    ])
    func resetCauses(lines: [String], cause: Transaction.ResetCause) {
        let (_, t) = build(greeting + envelope + lines)
        #expect(t.first?.outcome == .reset)
        #expect(t.first?.resetBy == cause)
    }

    @Test func aNewMailAfterARefusedOneResetsByMail() {
        let (_, t) = build(greeting + ["C: MAIL FROM:<a@example.net>", "S: 250 ok", "C: MAIL FROM:<c@example.net>", "S: 503 nested", "C: RSET", "S: 250 ok"])
        // The nested MAIL was refused: the first envelope stays and RSET resets it.
        #expect(t.map(\.resetBy) == [.rset])
        let (_, accepted) = build(greeting + ["C: MAIL FROM:<a@example.net>", "S: 250 ok", "C: MAIL FROM:<c@example.net>", "S: 250 ok", "C: QUIT", "S: 221 bye"])
        #expect(accepted.first?.resetBy == .mail)
        #expect(accepted.count == 2)
    }

    @Test(arguments: [
        (["C: AUTH PLAIN AGFsaWNlAHNlY3JldA==", "S: 235 2.7.0 ok"], AuthInfo.Result.success, "alice"),
        (["C: AUTH PLAIN AGFsaWNlAHNlY3JldA==", "S: 535 5.7.8 no"], .failure, "alice"),
        (["C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: *", "S: 501 cancelled"], .failure, nil),
        (["C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: *"], .cancelled, nil),
        (["C: AUTH PLAIN AGFsaWNlAHNlY3JldA=="], .unknown, "alice"),
    ] as [([String], AuthInfo.Result, String?)])
    func authResults(lines: [String], result: AuthInfo.Result, user: String?) {
        let s = build(greeting + lines).0
        #expect(s.auth?.result == result)
        #expect(s.auth?.mechanism == (lines[0].contains("PLAIN") ? "PLAIN" : "LOGIN"))
        #expect(s.auth?.user == user)
    }

    @Test func refusedRecipientsAndRejection() {
        let (_, t) = build(greeting + ["C: MAIL FROM:<a@example.net>", "S: 250 ok", "C: RCPT TO:<x@example.org>", "S: 550 5.1.1 no such user", "C: QUIT", "S: 221 bye"])
        #expect(t.first?.outcome == .rejected)
        #expect(t.first?.rcptRejected == [RejectedRecipient(address: "x@example.org", code: 550)])
        #expect(t.first?.reply?.code == 550)
    }

    @Test func onlyTheClientSideCaptured() {
        let (s, t) = build(["C: EHLO ws", "C: MAIL FROM:<a@example.net>", "C: RCPT TO:<b@example.org>", "C: DATA"])
        #expect(s.bytes[1] == 0)
        #expect(s.anomalies.map(\.name).contains(.serverSideMissing))
        #expect(t.first?.outcome == .incomplete)
        #expect(s.helo == "ws", "with no server side, the name sent")
    }

    @Test func aGapMakesTheTransactionIncomplete() {
        let b = SessionBuilder(session: Session(id: 1, client: Endpoint(.v4(1), 1), server: Endpoint(.v4(2), 25), vantage: Vantage(file: 0), start: .zero, end: .zero))
        for line in greeting + envelope {
            Array((line.dropFirst(3) + "\r\n").utf8).withUnsafeBytes { b.receive(line.hasPrefix("C: ") ? .toServer : .toClient, $0, at: .zero) }
        }
        b.gap(.toServer, length: 100, at: .zero)
        let s = b.close(reason: .fin, at: .zero)
        let t = b.takeFinished()
        #expect(s.gaps == [1, 0] && s.gapBytes == [100, 0])
        #expect(t.first?.gapped == true && t.first?.outcome == .incomplete && t.first?.resetBy == nil)
    }

    @Test func timelineIsInWireOrderWithRepliesMatched() {
        let (s, _) = build(greeting + envelope)
        #expect(s.banner?.code == 220)
        var commands = 0
        for e in s.timeline {
            switch e.kind {
            case .command: commands += 1; #expect(e.side == .client)
            case .reply(_, let answering): #expect(e.side == .server); #expect(answering == nil || answering! < commands)
            default: break
            }
        }
        #expect(commands == 3)
        #expect(zip(s.timeline, s.timeline.dropFirst()).allSatisfy { $0.time <= $1.time })
    }
}
