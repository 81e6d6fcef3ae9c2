import Testing
@testable import SMTP
import Vocabulary
import Sessions

let greeting = "220 mx.example.org ESMTP Postfix\r\n"
let ehloReply = "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 CHUNKING\r\n"
let message = "Subject: =?ISO-8859-1?Q?Caf=E9?= report\r\nMessage-ID: <1@ws.example.net>\r\nFrom: a@example.net\r\n\r\nbody line\r\n..leading dot\r\n"

/// A plain delivery, in the order a real client and server exchange it.
let plainDelivery = Dialogue([
    .server(greeting), .client("EHLO ws.example.net\r\n"), .server(ehloReply),
    .client("MAIL FROM:<alice@example.net> SIZE=120\r\n"), .server("250 2.1.0 Ok\r\n"),
    .client("RCPT TO:<bob@example.org>\r\n"), .server("250 2.1.5 Ok\r\n"),
    .client("DATA\r\n"), .server("354 End data with <CR><LF>.<CR><LF>\r\n"),
    .client(message + ".\r\n"), .server("250 2.0.0 Ok: queued as 4F3B2A17\r\n"),
    .client("QUIT\r\n"), .server("221 2.0.0 Bye\r\n"),
])

@Suite struct DecoderTests {
    @Test func plainDeliveryIsQueued() throws {
        let (s, txns) = plainDelivery.run()
        #expect(txns.count == 1)
        let t = try #require(txns.first)
        #expect(t.outcome == .queued)
        #expect(t.mailFrom == "alice@example.net")
        #expect(t.mailParameters.first?.key == "SIZE")
        #expect(t.rcptTo == ["bob@example.org"])
        #expect(t.queueID == "4F3B2A17")
        #expect(t.reply?.code == 250)
        #expect(t.reply?.enhanced == "2.0.0")
        // Dot-unstuffed: "..leading dot" counts one dot.
        #expect(t.size == message.utf8.count - 1)
        #expect(t.headers?.subject == "Café report")
        #expect(t.headers?.messageID == "<1@ws.example.net>")
        #expect(s.helo == "ws.example.net")
        #expect(s.extensions == ["PIPELINING", "SIZE 10240000", "STARTTLS", "CHUNKING"])
        #expect(s.starttls == .offered)
        #expect(s.close == .quit)
        #expect(s.banner?.code == 220)
        #expect(s.anomalies.isEmpty)
    }

    /// Every dialogue gives the same events whole, byte by byte, and cut at random (seeded, so a
    /// failure reproduces): how the reassembler happens to deliver the bytes must not matter.
    @Test(arguments: Self.dialogues.map(\.name))
    func chunkingDoesNotChangeEvents(dialogue name: String) throws {
        let d = try #require(Self.dialogues.first { $0.name == name }?.dialogue)
        let whole = d.events()
        #expect(!whole.isEmpty)
        #expect(d.events { $0.map { [$0] } } == whole, "byte by byte")
        for seed in 1...50 as ClosedRange<UInt64> {
            var rng = SeededRandom(seed: seed)
            #expect(d.events { $0.randomPieces(&rng) } == whole, "seed \(seed)")
        }
    }

    /// Anomaly names are listed once each in `Anomaly.Name.all`, and every one a dialogue meets is there.
    @Test func anomalyNamesAreListed() {
        let all = Anomaly.Name.all.map(\.rawValue)
        #expect(Set(all).count == all.count)
        let kebab = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        #expect(all.allSatisfy { !$0.isEmpty && $0.allSatisfy(kebab.contains) })
        var met = Set<String>()
        for (_, d) in Self.dialogues {
            for e in d.events() where e.hasPrefix("A ") { met.insert(String(e.dropFirst(2))) }
            for a in d.run().0.anomalies { met.insert(a.name.rawValue) }
        }
        #expect(met.count > 10)
        #expect(met.subtracting(all).isEmpty, "not listed: \(met.subtracting(all).sorted())")
    }

    @Test(arguments: Array(0...endOfDataCuts))
    func endOfDataSplitAtEveryPosition(cut: Int) throws {
        let (s, txns) = Self.endOfDataSplit(cut: cut).run()
        let t = try #require(txns.first)
        #expect(t.outcome == .queued)
        #expect(t.size == Self.endOfDataBody.utf8.count + 2)
        #expect(s.close == .quit)
    }

    @Test func pipelinedGroupMatchesRepliesInOrder() throws {
        let (_, txns) = Self.pipelinedGroupMatchesRepliesInOrder.run()
        let t = try #require(txns.first)
        #expect(t.rcptTo == ["b@y", "c@y"])
        #expect(t.rcptRejected == [RejectedRecipient(address: "nobody@y", code: 550)])
        #expect(t.outcome == .queued)
        let groups = Self.pipelinedGroupMatchesRepliesInOrder.events().filter { $0.hasPrefix("C MAIL") || $0.hasPrefix("C RCPT") || $0.hasPrefix("C DATA") }.map { $0.split(separator: " ").last! }
        #expect(Set(groups).count == 1, "MAIL, RCPTs and DATA form one pipelined group")
    }

    @Test func rejectedDataInPipelinedGroupKeepsLaterCommands() throws {
        // The client pipelines DATA; every RCPT is refused so DATA gets 554. What follows is a
        // command, not message data (tshark gets this wrong).
        let (s, txns) = Self.rejectedDataInPipelinedGroupKeepsLaterCommands.run()
        #expect(txns.count == 2)
        #expect(txns[0].outcome == .rejected)
        #expect(txns[0].reply?.code == 550)
        #expect(txns[1].outcome == .abandoned)
        #expect(s.close == .quit)
    }

    @Test func outcomes() throws {
        for (i, (d, expected)) in Self.outcomes.enumerated() {
            #expect(d.run().1.map(\.outcome) == expected, "case \(i)")
        }
    }

    @Test func tolerantMailArguments() throws {
        let (_, txns) = Self.tolerantMailArguments.run()
        #expect(txns.map(\.mailFrom) == ["a@x", "", "a@x", "a@x"])
        #expect(txns[0].rcptTo == ["b@y"])
        #expect(txns[1].mailParameters.first?.value == "8BITMIME")
        // Keywords are ASCII (RFC 5321 §4.1.2): upper-cased as such; a long s is not an s.
        #expect(txns[3].mailParameters.map(\.key) == ["BODY", "\u{17F}MTPUTF8", "SIZE"])
        #expect(txns[3].mailParameters.map(\.value) == ["8bitmime", nil, "10"])
    }

    @Test func authIsRedactedAndUserKept() throws {
        let (s, _) = Self.authIsRedactedAndUserKept.run()
        #expect(s.auth?.mechanism == "PLAIN")
        #expect(s.auth?.user == "alice")
        #expect(s.auth?.result == .success)
        let lines = s.timeline.map { String(decoding: $0.line, as: UTF8.self) }
        #expect(!lines.joined().contains(Self.plainCredentials))
        #expect(lines.contains("AUTH PLAIN ‹redacted›"))

        let (s2, _) = Self.authIsRedactedAndUserKeptLogin.run()
        #expect(s2.auth?.user == "bob")
        #expect(s2.auth?.result == .failure)
        let all = s2.timeline.map { String(decoding: $0.line, as: UTF8.self) }.joined(separator: "\n")
        #expect(!all.contains(Base64.encode(Array("hunter2".utf8))))
        var show = SMTPDecoder.Options()
        show.redactCredentials = false
        let shown = Self.authIsRedactedAndUserKeptLogin.run(options: show).0.timeline.map { String(decoding: $0.line, as: UTF8.self) }.joined(separator: "\n")
        #expect(shown.contains(Base64.encode(Array("hunter2".utf8))))
    }

    @Test func loginWithInitialResponseDoesNotLeakThePasswordAsUser() {
        let (s, _) = Self.loginWithInitialResponseDoesNotLeakThePasswordAsUser.run()
        #expect(s.auth?.user == "carol")
    }

    @Test func starttlsStopsTextDecoding() throws {
        let (s, txns) = Self.starttlsStopsTextDecoding.run()
        #expect(s.starttls == .started)
        #expect(txns.isEmpty)
        let (s2, t2) = Self.starttlsStopsTextDecodingRefused.run()
        #expect(s2.starttls == .refused)
        #expect(t2.count == 1)
    }

    /// STARTTLS, 220, then the dialogue in clear (a TLS-inspecting firewall's export, or a broken
    /// server): decoded, and said.
    static let plaintextAfterStartTLS = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("STARTTLS\r\n"), .server("220 2.0.0 Ready to start TLS\r\n"),
        .client("EHLO c\r\n"), .server(ehloReply),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"),
        .client("DATA\r\n"), .server("354 go\r\n"), .client("Subject: in clear\r\n\r\nhi\r\n.\r\n"), .server("250 queued\r\n"),
        .client("QUIT\r\n"), .server("221 bye\r\n"),
    ])

    @Test func plaintextAfterStarttlsIsDecoded() throws {
        let ev = Self.plaintextAfterStartTLS.events()
        #expect(!ev.contains("TLS"))
        #expect(ev.filter { $0 == "A plaintext-after-starttls" }.count == 1)
        #expect(ev.contains { $0.hasPrefix("C MAIL") })
        #expect(ev.contains { $0.hasPrefix("M end size=") && $0.contains("subject=in clear") })
        let (s, txns) = Self.plaintextAfterStartTLS.run()
        #expect(s.starttls == .plaintext)
        #expect(s.close == .quit)
        let t = try #require(txns.first)
        #expect(txns.count == 1)
        #expect(t.outcome == .queued && !t.tls)
        #expect(t.rcptTo == ["b@y"])
        #expect(s.timeline.contains { if case .note = $0.kind { return String(decoding: $0.line, as: UTF8.self).contains("no TLS followed") } else { return false } })
        // Cut anywhere (the first bytes after the 220 one at a time, too), the same events.
        var rng = SeededRandom(seed: 7)
        for _ in 0..<50 {
            #expect(Self.plaintextAfterStartTLS.events { $0.randomPieces(&rng, maxPiece: 3) } == ev)
        }
        #expect(Self.plaintextAfterStartTLS.events { $0.map { [$0] } } == ev)
    }

    @Test func tlsAfterStarttlsStaysOpaqueWhateverTheSegmentation() {
        let ev = Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentation.events()
        #expect(ev.last == "TLS")
        #expect(!ev.contains { $0.hasPrefix("A ") || $0.hasPrefix("C MAIL") })
        #expect(Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentation.events { $0.map { [$0] } } == ev)
        // Only the server's side after the 220 (the client's first bytes lost in a gap): its
        // ServerHello decides.
        #expect(Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerOnly.events().contains("TLS"))
        #expect(Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerOnly.run().0.starttls == .started)
        #expect(Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerClear.events().contains("A plaintext-after-starttls"))
        // Nothing after the 220: as the server agreed, TLS.
        #expect(Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationNothing.events().last == "TLS")
        #expect(Self.tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationNothing.run().0.starttls == .started)
    }

    @Test func tlsRecordHeaders() {
        #expect(SMTPDetector.isTLSRecord([0x16, 0x03, 0x01]))
        #expect(SMTPDetector.isTLSRecord([0x16, 0x03, 0x04]))
        #expect(SMTPDetector.isTLSRecord([0x15, 0x03]))
        #expect(!SMTPDetector.isTLSRecord([0x16, 0x03, 0x05]))
        #expect(!SMTPDetector.isTLSRecord(Array("EHL".utf8)))
        #expect(!SMTPDetector.isTLSRecord([0x16, 0x02, 0x01]))
        #expect(StartTLSOutcome.judge(client: [0x16, 0x03], server: [], final: false) == nil)
        #expect(StartTLSOutcome.judge(client: [0x16, 0x03], server: [], final: true) == .tls)
        #expect(StartTLSOutcome.judge(client: Array("EH".utf8), server: [], final: true) == .plaintext)
        #expect(StartTLSOutcome.judge(client: [], server: Array("250".utf8), final: false) == nil)
        #expect(StartTLSOutcome.judge(client: nil, server: Array("250".utf8), final: false) == .plaintext)
    }

    @Test func bdatChunksAreCountedExactly() throws {
        // RFC 3030 §4.2's example: chunk data may contain anything, including CRLF.CRLF.
        let (_, txns) = Self.bdatChunksAreCountedExactly.run()
        #expect(txns.count == 2)
        #expect(txns[0].outcome == .queued)
        #expect(txns[0].size == 20)
        #expect(txns[0].chunked)
        #expect(txns[0].headers?.subject == "t")
        #expect(txns[0].queueID == "B1")
        #expect(txns[1].outcome == .rejected)
        #expect(txns[1].size == 5)
    }

    @Test func invalidBdatIsAnAnomaly() {
        #expect(Self.invalidBdatIsAnAnomaly.run().0.anomalies.map(\.name).contains(.bdatInvalid))
    }

    @Test func gapInMessageMarksItIncompleteButKeepsLaterTransactions() throws {
        // Zeek once merged two messages after a loss (zeek issue 254): the gap hides the end of
        // data, and the server's reply proves the message ended.
        let (_, txns) = Self.gapInMessageMarksItIncompleteButKeepsLaterTransactions.run()
        #expect(txns.count == 2)
        #expect(txns.map(\.queueID) == ["FIRST", "SECOND"])
        #expect(txns[0].messageComplete == false)
        #expect(txns[1].messageComplete)
        #expect(txns[1].headers?.subject == "two")
    }

    @Test func resynchronisesAfterAClientGapInCommands() throws {
        let ev = Self.resynchronisesAfterAClientGapInCommands.events()
        // The rest of the cut line is dropped silently; the next non-command line is an anomaly.
        #expect(ev.contains("A resync-skipped-line"))
        #expect(!ev.contains { $0.hasPrefix("C OTHER") || $0.contains("tail of") })
        #expect(ev.contains { $0.hasPrefix("C RCPT") })
    }

    @Test func serverGapSkipsToThePlausibleCommand() throws {
        let (_, txns) = Self.serverGapSkipsToThePlausibleCommand.run()
        #expect(txns.first?.outcome == .queued)
        #expect(txns.first?.queueID == "Z")
    }

    @Test func lineAnomalies() {
        let names = Set(Self.lineAnomalies.run().0.anomalies.map(\.name))
        #expect(names.isSuperset(of: [.bareLF, .commandLineTooLong, .replyMalformed, .replyCodeInvalid, .replyWithoutCommand]))
    }

    @Test func hardLineLimitBoundsMemory() {
        var opts = SMTPDecoder.Options()
        opts.lineLimit = 1024
        let d = SMTPDecoder(options: opts)
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 4096)
        for _ in 0..<256 { chunk.withUnsafeBytes { d.receive(.toServer, $0, at: .zero) } }
        #expect(d.client.framer.partial.count <= 1024)
        let names = d.takeEvents().compactMap { if case .anomaly(let a) = $0 { return a.name } else { return nil } }
        #expect(names == [.lineOverHardLimit])
    }

    @Test func pendingQueueIsBounded() {
        var opts = SMTPDecoder.Options()
        opts.maxPending = 100
        let d = SMTPDecoder(options: opts)
        let flood = Array(String(repeating: "NOOP\r\n", count: 5000).utf8)
        flood.withUnsafeBytes { d.receive(.toServer, $0, at: .zero) }
        #expect(d.dialogue.pending.count - d.dialogue.pendingHead <= 100)
        #expect(d.takeEvents().contains { if case .anomaly(let a) = $0 { return a.name == .tooManyPendingCommands } else { return false } })
    }

    @Test func helloWithoutHostnameAnd501() throws {
        let (s, txns) = Self.helloWithoutHostnameAnd501.run()
        #expect(s.helo == nil, "the server accepted no HELO")
        #expect(s.heloRefused.map(\.name) == [""])
        #expect(s.heloRefused.map(\.code) == [501])
        #expect(txns.isEmpty)
        #expect(s.close == .quit)
    }

    @Test func oneSidedCaptureStillFindsTheMessage() throws {
        // Only the client's half was captured: DATA's 354 is never seen.
        let (_, txns) = Self.oneSidedCaptureStillFindsTheMessage.run()
        #expect(txns.count == 1)
        #expect(txns[0].headers?.subject == "only client")
        #expect(txns[0].mailFrom == "a@x")
        #expect(txns[0].rcptTo.isEmpty, "no reply seen, so no recipient is known to be accepted")
    }

    @Test func nestedMailRefusedKeepsTheFirstEnvelope() throws {
        // RFC 5321 §4.1.1.2: MAIL inside a transaction is refused (503) and the first envelope stands.
        let (s, txns) = Self.nestedMailRefusedKeepsTheFirstEnvelope.run()
        #expect(txns.count == 1)
        #expect(txns.first?.mailFrom == "alice@x")
        #expect(txns.first?.rcptTo == ["carol@y"])
        #expect(txns.first?.outcome == .queued)
        #expect(s.anomalies.map(\.name).contains(.nestedMail))
    }

    @Test func refusedEhloKeepsTheEnvelope() throws {
        // Only an accepted EHLO resets the transaction (Suricata's smtp-rejected-ehlo-preserves-envelope).
        let (s, txns) = Self.refusedEhloKeepsTheEnvelope.run()
        #expect(txns.map(\.outcome) == [.queued, .reset])
        #expect(txns.first?.rcptTo == ["bob@y"])
        #expect(txns.last?.resetBy == .ehlo)
        #expect(txns.last?.reply?.code == 250)
        #expect(s.helo == "third")
    }

    @Test func replyToAResetIsTheResettingCommandsReply() throws {
        let t = try #require(Self.replyToAResetIsTheResettingCommandsReply.run().1.first)
        #expect(t.outcome == .reset)
        #expect(t.resetBy == .rset)
        #expect(t.reply?.text == "Reset done")
    }

    @Test func messageWithoutAUsableReplyIsIncomplete() throws {
        // The reply to the end of data has no code (Suricata's smtp-errors): not "abandoned".
        let (s, txns) = Self.messageWithoutAUsableReplyIsIncomplete.run()
        #expect(txns.first?.outcome == .incomplete)
        #expect(s.quitSent)
        #expect(s.anomalies.map(\.name).contains(.replyMalformed))
    }

    @Test func malformedBdatDoesNotSwallowTheNextCommand() {
        let ev = Self.malformedBdatDoesNotSwallowTheNextCommand.events()
        #expect(ev.contains { $0.hasPrefix("C QUIT") })
        #expect(ev.contains("A bdat-invalid"))
    }

    @Test func tlsAfterAPlaintextGreetingWithoutStarttls() {
        // A client speaking TLS to port 465 whose server greets in plain text: the banner and the
        // server's complaints stay visible (Suricata's smtp-errors).
        let (s, _) = Self.tlsAfterAPlaintextGreetingWithoutStarttls.run()
        #expect(s.banner?.code == 220)
        #expect(s.starttls == .none)
        #expect(s.anomalies.map(\.name).contains(.tlsWithoutStartTLS))
        #expect(Self.tlsAfterAPlaintextGreetingWithoutStarttlsImplicit.run().0.starttls == .implicit)
        // Both sides' first bytes show TLS: it began once.
        #expect(Self.tlsAfterAPlaintextGreetingWithoutStarttlsImplicit.events() == ["TLS"])
    }

    @Test func enhancedStatusCodes() {
        #expect(SMTPDecoder.enhancedCode(Array("2.1.0 Ok".utf8), class: 2) == "2.1.0")
        #expect(SMTPDecoder.enhancedCode(Array("5.7.1 no".utf8), class: 5) == "5.7.1")
        #expect(SMTPDecoder.enhancedCode(Array("4.7.0 no".utf8), class: 5) == nil)
        #expect(SMTPDecoder.enhancedCode(Array("2.1 Ok".utf8), class: 2) == nil)
        #expect(SMTPDecoder.enhancedCode(Array("Ok".utf8), class: 2) == nil)
    }

    /// RFC 4648 §10's test vectors, both ways.
    @Test func base64FollowsRFC4648() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, coded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == coded)
            #expect(Base64.decode(Array(coded.utf8)) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xfb, 0xff, 0xbf]) == "+/+/")
    }
}

// MARK: - Dialogues

extension DecoderTests {
    /// Transactions after `EHLO`, and the outcome each must get.
    static let outcomes: [(Dialogue, [Outcome])] = {
        func afterEhlo(_ steps: [Dialogue.Step]) -> Dialogue {
            Dialogue([.server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n")] + steps)
        }
        return [
            (afterEhlo([.client("MAIL FROM:<a@x>\r\n"), .server("550 no\r\n")]), [.rejected]),
            (afterEhlo([.client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"), .client("RSET\r\n"), .server("250 ok\r\n")]), [.reset]),
            (afterEhlo([.client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("EHLO again\r\n"), .server("250 ok\r\n")]), [.reset]),
            (afterEhlo([.client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("QUIT\r\n"), .server("221 bye\r\n")]), [.abandoned]),
            (afterEhlo([.client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"), .client("DATA\r\n"), .server("354 go\r\n"), .client("x\r\n.\r\n"), .server("552 too big\r\n")]), [.rejected]),
            // The connection closes (FIN) in the middle: abandoned.
            (afterEhlo([.client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n")]), [.abandoned]),
        ]
    }()

    static let endOfDataCuts = "\r\n.\r\n".utf8.count + 12
    static let endOfDataBody = "Subject: x\r\n\r\nline one\r\nend"

    /// The body's last bytes and the terminator, cut at `cut` across two segments.
    static func endOfDataSplit(cut: Int) -> Dialogue {
        let tail = Array((endOfDataBody + "\r\n.\r\nQUIT\r\n").utf8)
        let at = tail.count - 12 + min(cut, 11)
        return Dialogue([
            .server(greeting), .client("HELO a\r\n"), .server("250 ok\r\n"),
            .client("MAIL FROM:<a@b>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<c@d>\r\n"), .server("250 ok\r\n"),
            .client("DATA\r\n"), .server("354 go\r\n"),
            .client(String(decoding: tail[..<at], as: UTF8.self)), .client(String(decoding: tail[at...], as: UTF8.self)),
            .server("250 queued as ABC\r\n221 bye\r\n"),
        ])
    }

    static let pipelinedGroupMatchesRepliesInOrder = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<nobody@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n"),
        .server("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@y>: unknown\r\n250 2.1.5 Ok\r\n354 go\r\n"),
        .client("Subject: s\r\n\r\nx\r\n.\r\n"), .server("250 2.0.0 Ok: queued as Q1\r\n"),
        .client("QUIT\r\n"), .server("221 bye\r\n"),
    ])

    static let rejectedDataInPipelinedGroupKeepsLaterCommands = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
        .server("250 Ok\r\n550 5.1.1 unknown\r\n554 5.5.1 Error: no valid recipients\r\n"),
        .client("RSET\r\n"), .server("250 Ok\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 Ok\r\n"),
        .client("QUIT\r\n"), .server("221 bye\r\n"),
    ])

    static let tolerantMailArguments = Dialogue([
        .server(greeting), .client("HELO c\r\n"), .server("250 ok\r\n"),
        .client("mail from:a@x\r\n"), .server("250 ok\r\n"), .client("rcpt to: <b@y> NOTIFY=NEVER\r\n"), .server("250 ok\r\n"),
        .client("RSET\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<> BODY=8BITMIME\r\n"), .server("250 ok\r\n"),
        .client("RSET\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<@relay.example:a@x>\r\n"), .server("250 ok\r\n"),
        .client("RSET\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<a@x> body=8bitmime \u{17F}mtputf8 Size=10\r\n"), .server("250 ok\r\n"),
    ])

    static let plainCredentials = Base64.encode(Array("\u{0}alice\u{0}secret-password".utf8))

    static let authIsRedactedAndUserKept = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250-x\r\n250 AUTH PLAIN LOGIN\r\n"),
        .client("AUTH PLAIN \(plainCredentials)\r\n"), .server("235 2.7.0 Authentication successful\r\n"),
        .client("QUIT\r\n"), .server("221 bye\r\n"),
    ])

    static let authIsRedactedAndUserKeptLogin = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 AUTH LOGIN\r\n"),
        .client("AUTH LOGIN\r\n"), .server("334 VXNlcm5hbWU6\r\n"),
        .client(Base64.encode(Array("bob".utf8)) + "\r\n"), .server("334 UGFzc3dvcmQ6\r\n"),
        .client(Base64.encode(Array("hunter2".utf8)) + "\r\n"), .server("535 5.7.8 failed\r\n"),
    ])

    static let loginWithInitialResponseDoesNotLeakThePasswordAsUser = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 AUTH LOGIN\r\n"),
        .client("AUTH LOGIN \(Base64.encode(Array("carol".utf8)))\r\n"), .server("334 UGFzc3dvcmQ6\r\n"),
        .client(Base64.encode(Array("pa55".utf8)) + "\r\n"), .server("235 ok\r\n"),
    ])

    static let starttlsStopsTextDecoding = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("STARTTLS\r\n"), .server("220 2.0.0 Ready to start TLS\r\n"),
        .client("\u{16}\u{03}\u{01}binary hello MAIL FROM:<x@y>\r\n"), .server("\u{16}\u{03}\u{03}server hello\r\n"),
    ])

    static let starttlsStopsTextDecodingRefused = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("STARTTLS\r\n"), .server("454 4.7.0 TLS not available\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"),
    ])

    static let tlsAfterStarttlsStaysOpaqueWhateverTheSegmentation = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("STARTTLS\r\n"), .server("220 2.0.0 Ready to start TLS\r\n"),
        .client("\u{16}\u{03}\u{01}\u{02}\u{00}MAIL FROM:<x@y>\r\n"), .server("\u{16}\u{03}\u{03}\u{00}\u{7a}RCPT\r\n"),
        .client("\u{17}\u{03}\u{03}QUIT\r\n"),
    ])

    static let tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerOnly = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("STARTTLS\r\n"), .server("220 ready\r\n"), .clientGap(300), .server("\u{16}\u{03}\u{03}\u{00}\u{7a}"),
    ])

    static let tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerClear = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server(ehloReply),
        .client("STARTTLS\r\n"), .server("220 ready\r\n"), .clientGap(8), .server("250 ok\r\n"),
    ])

    static let tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationNothing = Dialogue([.server(greeting), .client("EHLO c\r\n"), .server(ehloReply), .client("STARTTLS\r\n"), .server("220 ready\r\n")])

    static let bdatChunksAreCountedExactly = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250-x\r\n250 CHUNKING\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"),
        .client("BDAT 20\r\nSubject: t\r\n\r\n.\r\nabc"), .server("250 20 octets\r\n"),
        .client("BDAT 0 LAST\r\n"), .server("250 2.0.0 Ok: queued as B1\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"),
        .client("BDAT 5 LAST\r\nhello"), .server("552 too big\r\n"),
        .client("QUIT\r\n"), .server("221 bye\r\n"),
    ])

    static let invalidBdatIsAnAnomaly = Dialogue([.server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"), .client("BDAT x LAST\r\n"), .server("501 bad\r\n")])

    static let gapInMessageMarksItIncompleteButKeepsLaterTransactions = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"),
        .client("DATA\r\n"), .server("354 go\r\n"), .client("Subject: one\r\n\r\nfirst part"), .clientGap(500),
        .server("250 2.0.0 Ok: queued as FIRST\r\n"),
        .client("MAIL FROM:<c@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<d@y>\r\n"), .server("250 ok\r\n"),
        .client("DATA\r\n"), .server("354 go\r\n"), .client("Subject: two\r\n\r\nsecond\r\n.\r\n"),
        .server("250 2.0.0 Ok: queued as SECOND\r\n"),
    ])

    static let resynchronisesAfterAClientGapInCommands = Dialogue([
        .server(greeting), .client("EHLO c\r\nMAIL FR"), .clientGap(40),
        .client("tail of the lost line\r\nnot a command\r\nRCPT TO:<b@y>\r\n"),
    ])

    static let serverGapSkipsToThePlausibleCommand = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"), .serverGap(30), .server("354 go\r\n"),
        .client("x\r\n.\r\n"), .server("250 queued as Z\r\n"),
    ])

    static let lineAnomalies = Dialogue([
        .server(greeting), .client("EHLO c\n"), .server("250 ok\r\n"),
        .client("NOOP " + String(repeating: "x", count: 600) + "\r\n"), .server("250 ok\r\n"),
        .server("garbage\r\n"), .server("999 what\r\n"),
    ])

    static let helloWithoutHostnameAnd501 = Dialogue([.server(greeting), .client("HELO\r\n"), .server("501 Syntax: HELO hostname\r\n"), .client("QUIT\r\n"), .server("221 bye\r\n")])

    static let oneSidedCaptureStillFindsTheMessage = Dialogue([
        .client("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
        .client("Subject: only client\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
    ])

    static let nestedMailRefusedKeepsTheFirstEnvelope = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<alice@x>\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<bob@x>\r\n"), .server("503 5.5.1 Error: nested MAIL command\r\n"),
        .client("RCPT TO:<carol@y>\r\n"), .server("250 ok\r\n"),
        .client("DATA\r\n"), .server("354 go\r\n"), .client("x\r\n.\r\n"), .server("250 queued as N1\r\n"),
    ])

    static let refusedEhloKeepsTheEnvelope = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<alice@x>\r\n"), .server("250 ok\r\n"),
        .client("ehlo\r\n"), .server("501 5.5.4 Syntax: EHLO hostname\r\n"),
        .client("RCPT TO:<bob@y>\r\n"), .server("250 ok\r\n"),
        .client("DATA\r\n"), .server("354 go\r\n"), .client("x\r\n.\r\n"), .server("250 queued as E1\r\n"),
        .client("EHLO again\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<z@x>\r\n"), .server("250 ok\r\n"), .client("EHLO third\r\n"), .server("250 ok\r\n"),
    ])

    static let replyToAResetIsTheResettingCommandsReply = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 2.1.0 Ok\r\n"), .client("RSET\r\n"), .server("250 2.0.0 Reset done\r\n"),
    ])

    static let messageWithoutAUsableReplyIsIncomplete = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("MAIL FROM:<a@x>\r\n"), .server("250 ok\r\n"), .client("RCPT TO:<b@y>\r\n"), .server("250 ok\r\n"),
        .client("DATA\r\n"), .server("354 go\r\n"), .client("x\r\n.\r\n"), .server("4.7.0 deferred\r\n"),
        .client("QUIT\r\n"),
    ])

    static let malformedBdatDoesNotSwallowTheNextCommand = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250 ok\r\n"),
        .client("BDAT 1234 SCRAMBLE\r\nQUIT\r\n"), .server("501 syntax\r\n221 bye\r\n"),
    ])

    static let tlsAfterAPlaintextGreetingWithoutStarttls = Dialogue([.server(greeting), .client("\u{16}\u{03}\u{01}\u{00}hello"), .server("500 5.5.2 Error: bad syntax\r\n")])

    static let tlsAfterAPlaintextGreetingWithoutStarttlsImplicit = Dialogue([.client("\u{16}\u{03}\u{01}\u{00}hello"), .server("\u{16}\u{03}\u{03}\u{00}x")])

    /// Every dialogue the decoder tests define, by name: the chunking test runs over each.
    static let dialogues: [(name: String, dialogue: Dialogue)] = {
        var all: [(name: String, dialogue: Dialogue)] = [
            ("plainDelivery", plainDelivery),
            ("plaintextAfterStartTLS", plaintextAfterStartTLS),
            ("pipelinedGroupMatchesRepliesInOrder", pipelinedGroupMatchesRepliesInOrder),
            ("rejectedDataInPipelinedGroupKeepsLaterCommands", rejectedDataInPipelinedGroupKeepsLaterCommands),
            ("tolerantMailArguments", tolerantMailArguments),
            ("authIsRedactedAndUserKept", authIsRedactedAndUserKept),
            ("authIsRedactedAndUserKeptLogin", authIsRedactedAndUserKeptLogin),
            ("loginWithInitialResponseDoesNotLeakThePasswordAsUser", loginWithInitialResponseDoesNotLeakThePasswordAsUser),
            ("starttlsStopsTextDecoding", starttlsStopsTextDecoding),
            ("starttlsStopsTextDecodingRefused", starttlsStopsTextDecodingRefused),
            ("tlsAfterStarttlsStaysOpaqueWhateverTheSegmentation", tlsAfterStarttlsStaysOpaqueWhateverTheSegmentation),
            ("tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerOnly", tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerOnly),
            ("tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerClear", tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationServerClear),
            ("tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationNothing", tlsAfterStarttlsStaysOpaqueWhateverTheSegmentationNothing),
            ("bdatChunksAreCountedExactly", bdatChunksAreCountedExactly),
            ("invalidBdatIsAnAnomaly", invalidBdatIsAnAnomaly),
            ("gapInMessageMarksItIncompleteButKeepsLaterTransactions", gapInMessageMarksItIncompleteButKeepsLaterTransactions),
            ("resynchronisesAfterAClientGapInCommands", resynchronisesAfterAClientGapInCommands),
            ("serverGapSkipsToThePlausibleCommand", serverGapSkipsToThePlausibleCommand),
            ("lineAnomalies", lineAnomalies),
            ("helloWithoutHostnameAnd501", helloWithoutHostnameAnd501),
            ("oneSidedCaptureStillFindsTheMessage", oneSidedCaptureStillFindsTheMessage),
            ("nestedMailRefusedKeepsTheFirstEnvelope", nestedMailRefusedKeepsTheFirstEnvelope),
            ("refusedEhloKeepsTheEnvelope", refusedEhloKeepsTheEnvelope),
            ("replyToAResetIsTheResettingCommandsReply", replyToAResetIsTheResettingCommandsReply),
            ("messageWithoutAUsableReplyIsIncomplete", messageWithoutAUsableReplyIsIncomplete),
            ("malformedBdatDoesNotSwallowTheNextCommand", malformedBdatDoesNotSwallowTheNextCommand),
            ("tlsAfterAPlaintextGreetingWithoutStarttls", tlsAfterAPlaintextGreetingWithoutStarttls),
            ("tlsAfterAPlaintextGreetingWithoutStarttlsImplicit", tlsAfterAPlaintextGreetingWithoutStarttlsImplicit),
        ]
        for (i, (d, _)) in outcomes.enumerated() { all.append(("outcomes[\(i)]", d)) }
        for cut in 0...endOfDataCuts { all.append(("endOfDataSplit(cut: \(cut))", endOfDataSplit(cut: cut))) }
        return all
    }()
}
