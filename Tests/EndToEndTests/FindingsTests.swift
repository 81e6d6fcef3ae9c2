import Findings
import Foundation
import SMTP
import Vocabulary
import Sessions
import Testing

/// A scripted session for rules no capture shows: (seconds since start, side, bytes).
func scripted(_ steps: [(Double, Side, String)], ttl: UInt8 = 64, close: CloseReason = .fin, rtt: Double? = nil, edit: (inout Session) -> Void = { _ in }) -> (Session, [Transaction]) {
    let b = SessionBuilder(session: Session(id: 1, client: Endpoint(.v4(0xc000_020a), 50000), server: Endpoint(.v4(0xc633_6419), 25), vantage: Vantage(file: 0), start: .zero, end: .zero))
    var txns: [Transaction] = []
    var serverIPID: UInt16 = 40_000  // the server's IPv4 ID counter: a few packets per reply
    for (t, side, text) in steps {
        let time = Timestamp(nanoseconds: Int64(t * 1e9))
        if text.hasPrefix("GAP ") {
            b.gap(side == .client ? .toServer : .toClient, length: Int(text.dropFirst(4))!, at: time)
        } else {
            // "TTL …": the line arrives with another TTL; "IPID n …": with IPv4 ID n.
            var line = Substring(text)
            let other = line.hasPrefix("TTL ")
            if other { line = line.dropFirst(4) }
            var ipID: UInt16?
            if side == .server {
                serverIPID &+= 3
                ipID = serverIPID
                if line.hasPrefix("IPID "), let space = line.dropFirst(5).firstIndex(of: " ") {
                    ipID = UInt16(line[line.index(line.startIndex, offsetBy: 5)..<space])
                    line = line[line.index(after: space)...]
                }
            }
            Array(line.utf8).withUnsafeBytes { b.receive(side == .client ? .toServer : .toClient, $0, at: time, ttl: other ? 128 : ttl, ipID: ipID) }
        }
        txns += b.takeFinished()
    }
    var s = b.close(reason: close, at: Timestamp(nanoseconds: Int64(((steps.last?.0 ?? 0) + 0.001) * 1e9)))
    txns += b.takeFinished()
    s.handshakeRTT = rtt
    // A handshake seen from the client's side: the SYN-ACK takes the round trip.
    s.handshakeHalves = rtt.map { ($0, 0.00005) }
    edit(&s)
    return (s, txns)
}

func ids(_ r: (Session, [Transaction])) -> Set<String> { Set(FindingsEngine.session(r.0, r.1).map(\.id.rawValue)) }
func captureFindings(_ names: [String]) -> Set<String> {
    findings(at: names.map { capturesDir.appendingPathComponent($0).path })
}

/// Every finding's id, for sessions and intercepted connections, over the captures at `paths`.
func findings(at paths: [String]) -> Set<String> {
    let (x, found) = intercepts(paths)
    var all = Set<String>()
    for s in x.sessions { all.formUnion(FindingsEngine.session(s, x.transactions(of: s)).map(\.id.rawValue)) }
    for i in found { all.formUnion(FindingsEngine.intercept(i).map(\.id.rawValue)) }
    return all
}

let S = Side.server, C = Side.client
let hello: [(Double, Side, String)] = [(0, S, "220 mx.example.org ESMTP\r\n"), (0.01, C, "EHLO ws.example.net\r\n"), (0.02, S, "250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n")]
let mailTo: [(Double, Side, String)] = [(0.03, C, "MAIL FROM:<a@x>\r\n"), (0.04, S, "250 ok\r\n"), (0.05, C, "RCPT TO:<b@y>\r\n"), (0.06, S, "250 ok\r\n")]

@Suite struct FindingsTests {
    /// The captures that show each finding, from real software.
    @Test(arguments: [
        ("helo-no-hostname.pcap", ["helo-without-hostname", "helo-refused-client-gave-up"]),
        ("middlebox-store-and-forward-server-leg.pcap", ["rset-after-recipients", "rset-burst", "transaction-replayed", "noop-keepalive"]),
        // The scanner answers the client's DATA at once; the server, 20 ms away, takes longer for everything.
        ("middlebox-store-and-forward-client-leg.pcap", ["fast-reply"]),
        ("relay-connection-reuse.pcap", ["rset-connection-reuse", "closed-without-quit"]),
        ("middlebox-inline-rewriter-client-leg.pcap", ["banner-masked", "starttls-masked"]),
        ("middlebox-inline-rewriter-server-leg.pcap", ["command-masked"]),
        ("middlebox-starttls-answered-client-leg.pcap", ["starttls-answer-inconsistent"]),
        ("plain-delivery.pcap", ["starttls-not-used"]),
        ("auth-plain.pcap", ["cleartext-credentials"]),
        ("auth-login.pcap", ["cleartext-credentials"]),
        ("careless-client.pcap", ["pipelining-not-offered", "eight-bit-without-8bitmime", "rst-mid-transaction"]),
        ("oversize-message.pcap", ["message-over-size"]),
        ("snaplen-cut.pcap", ["capture-gap"]),
        ("starttls-refused.pcap", ["starttls-refused"]),
        ("long-silence.pcap", ["long-silence"]),
        ("ehlo-refused.pcap", ["ehlo-refused-no-helo"]),
        ("middlebox-store-and-forward-both-legs.pcapng", ["intercepted-store-and-forward"]),
        ("middlebox-inline-rewriter-both-legs.pcapng", ["intercepted-inline-rewriter"]),
        ("middlebox-starttls-answered-both-legs.pcapng", ["intercepted-starttls"]),
        ("middlebox-plain-relay-both-legs.pcapng", ["intercepted-relay"]),
        ("middlebox-divergent-both-legs.pcapng", ["intercepted-store-and-forward", "divergent-outcome"]),
    ] as [(String, [String])])
    func firesOnTheCaptureThatShowsIt(capture: String, expected: [String]) {
        let found = captureFindings([capture])
        for id in expected { #expect(found.contains(id), "\(capture): \(id) not found in \(found.sorted())") }
    }

    /// Peer projects' captures of real traffic that show a finding (each one checked by reading
    /// the capture).
    @Test(.enabled(if: peerCapturesExpected, "../shared/peer-captures is not beside this clone"), arguments: [
        // 0xA0 (Latin-1 no-break space) in the body, MAIL FROM without BODY=8BITMIME.
        ("suricata/smtp-data-rejected/10.7.29.101_49898-178.63.41.150_25.pcap", ["eight-bit-without-8bitmime"]),
        // Message lines ended by LF alone.
        ("suricata/bug-6207-1/input.pcap", ["bare-line-ending"]),
        // Garbage sent to a Sendmail server, a Yahoo server's reply line without a code, a
        // CommuniGate reply coded 472, HELO [0.0.0.0] from 10.6.8.101.
        ("suricata/smtp-errors/smtperr.pcap", ["invalid-reply", "line-too-long", "nul-byte", "reply-without-command", "smtputf8-missing", "helo-literal-mismatch", "commands-never-answered"]),
        // 'ehlo' with no name, refused 501 after HELO was accepted: the refusal does not count as
        // 'EHLO refused, HELO never tried'.
        ("suricata/smtp-rejected-ehlo-preserves-envelope/input.pcap", ["helo-without-hostname"]),
        ("suricata/smtp-long-command/input.pcap", ["line-too-long"]),
        ("suricata/smtp-pipelining/input.pcap", ["commands-after-data"]),
        ("suricata/smtp-pipelined-rset-after-complete/input.pcap", ["rset-connection-reuse"]),
        ("zeek/smtp_smtp-bdat-cmd-invalid/smtp-bdat-cmd-invalid.pcapng", ["bdat-invalid"]),
        ("arkime/smtp-nospaces/smtp-nospaces.pcap", ["helo-without-hostname"]),
        // The 221 arrives with TTL 56, the banner and every other reply with 57; AUTH LOGIN on
        // port 587 without STARTTLS.
        ("suricata/smtp-bug-5981/input.pcap", ["ttl-mismatch", "cleartext-credentials"]),
    ] as [(String, [String])])
    func firesOnPeerCaptures(capture: String, expected: [String]) {
        let all = findings(at: [peerDir.appendingPathComponent(capture).path])
        for id in expected { #expect(all.contains(id), "\(capture): \(id) not found in \(all.sorted())") }
        if capture.contains("ehlo-preserves-envelope") { #expect(!all.contains("ehlo-refused-no-helo")) }
    }

    /// A capture from Arkime's suite: the handshake took 420 ms (a slow accept), every reply about
    /// 73 ms, the 354 too — nothing nearer answered.
    @Test(.enabled(if: peerCapturesExpected, "../shared/peer-captures is not beside this clone"))
    func evenRepliesAreNotFast() {
        let (x, _) = intercepts([peerDir.appendingPathComponent("arkime/smtp-data-521/smtp-data-521.pcap").path])
        #expect(!x.sessions.isEmpty)
        for s in x.sessions { #expect(!FindingsEngine.session(s, x.transactions(of: s)).contains { $0.id == .fastReply }) }
    }

    /// Ordinary deliveries raise no warning and no problem (only information, such as STARTTLS
    /// offered but not used).
    @Test(arguments: ["plain-delivery.pcap", "msmtp-delivery.pcap", "smtplib-delivery.pcap", "pipelining-rcpt-refused.pcap", "subject-8bit.pcap", "plaintext-after-starttls.pcap", "bdat-chunking.pcap", "ipv6-delivery.pcap", "cooked-any.pcap", "starttls.pcap", "typed-session.pcap", "large-message-impaired.pcap", "two-clients-same-message.pcap"])
    func plainDeliveriesRaiseNoWarning(capture: String) {
        let (x, found) = intercepts([capturesDir.appendingPathComponent(capture).path])
        #expect(found.isEmpty)
        for s in x.sessions {
            let serious = FindingsEngine.session(s, x.transactions(of: s)).filter { $0.severity > .info }
            #expect(serious.isEmpty, "\(capture): \(serious.map { "\($0.id): \($0.message)" })")
        }
    }

    @Test func rulesWithoutACapture() {
        #expect(ids(scripted(hello.map { ($0.0, $0.1, $0.2.replacingOccurrences(of: "EHLO ws.example.net", with: "EHLO [203.0.113.9]")) })).contains("helo-literal-mismatch"))
        #expect(ids(scripted([(0, S, "220 mx\r\n"), (0.01, C, "EHLO ws\r\n"), (0.02, S, "502 no\r\n"), (0.03, C, "MAIL FROM:<a@x>\r\n"), (0.04, S, "250 ok\r\n")])).contains("ehlo-refused-no-helo"))
        #expect(ids(scripted(hello + [(0.03, C, "STARTTLS\r\n"), (0.04, S, "454 4.7.0 TLS not available\r\n")])).contains("starttls-refused"))
        #expect(ids(scripted([(0, S, "220 mx\r\n"), (0.01, C, "EHLO ws\r\n"), (0.02, S, "250 mx\r\n"), (0.03, C, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n"), (0.04, S, "250 ok\r\n250 ok\r\n")])).contains("pipelining-not-offered"))
        #expect(ids(scripted(hello + mailTo + [(0.07, C, "DATA\r\nSubject: x\r\n"), (0.08, S, "354 go\r\n")])).contains("commands-after-data"))
        #expect(ids(scripted(hello + [(0.03, S, "250 unasked\r\n")])).contains("reply-without-command"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP\r\n")])).contains("commands-never-answered"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP\r\n"), (0.04, S, "2x0 what\r\n")])).contains("invalid-reply"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP\n"), (0.04, S, "250 ok\r\n")])).contains("bare-line-ending"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP " + String(repeating: "a", count: 600) + "\r\n"), (0.04, S, "250 ok\r\n")])).contains("line-too-long"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP a\u{0}b\r\n"), (0.04, S, "250 ok\r\n")])).contains("nul-byte"))
        #expect(ids(scripted(hello + [(0.03, C, "MAIL FROM:<jösé@x>\r\n"), (0.04, S, "250 ok\r\n")])).contains("smtputf8-missing"))
        #expect(!ids(scripted(hello + [(0.03, C, "MAIL FROM:<jösé@x> SMTPUTF8\r\n"), (0.04, S, "250 ok\r\n")])).contains("smtputf8-missing"))
        #expect(ids(scripted(hello + [(0.03, C, "BDAT x\r\n"), (0.04, S, "501 bad\r\n")])).contains("bdat-invalid"))
        let big = String(repeating: "x", count: 2000)
        #expect(ids(scripted(hello + mailTo + [(0.07, C, "DATA\r\n"), (0.08, S, "354 go\r\n"), (0.09, C, big + "\r\n.\r\n"), (0.1, S, "552 too big\r\n")])).contains("message-over-size"))
        #expect(ids(scripted(hello + mailTo + [(400, C, "DATA\r\n"), (400.1, S, "354 go\r\n")])).contains("long-silence"))
        #expect(ids(scripted(hello + mailTo, close: .rst)).contains("rst-mid-transaction"))
        #expect(ids(scripted(hello + mailTo + [(0.07, C, "DATA\r\n"), (0.08, S, "354 go\r\n"), (0.09, C, "GAP 100")])).contains("capture-gap"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP\r\n"), (0.04, S, "TTL 250 ok\r\n")])).contains("ttl-mismatch"))
        // A reply injected with another host's IPv4 ID, the server's sequence going on after it.
        let injected = hello + mailTo + [(0.07, C, "RSET\r\n"), (0.08, S, "IPID 7 250 ok\r\n"), (0.09, C, "QUIT\r\n"), (0.1, S, "221 bye\r\n")]
        #expect(ids(scripted(injected)).contains("ip-id-mismatch"))
        #expect(!ids(scripted(injected.map { ($0.0, $0.1, $0.2.replacingOccurrences(of: "IPID 7 ", with: "")) })).contains("ip-id-mismatch"))
        // Random IDs are not judged, even where one reply happens to look out of a sequence
        // (100 → 200 steps over 40000) but the others form none.
        let random = ["IPID 100 ", "IPID 40000 ", "IPID 200 ", "IPID 20000 ", "IPID 60000 ", "IPID 9000 "]
        var k = 0
        let randomSteps = injected.map { step -> (Double, Side, String) in
            guard step.1 == .server else { return step }
            defer { k += 1 }
            return (step.0, step.1, random[k] + step.2.replacingOccurrences(of: "IPID 7 ", with: ""))
        }
        #expect(randomSteps.filter { $0.2.hasPrefix("IPID") }.count == 6)
        #expect(!ids(scripted(randomSteps)).contains("ip-id-mismatch"))
        // The same first three replies with the others in sequence: judged.
        let sequence = ["IPID 100 ", "IPID 40000 ", "IPID 200 ", "IPID 203 ", "IPID 206 ", "IPID 209 "]
        k = 0
        #expect(ids(scripted(injected.map { step -> (Double, Side, String) in
            guard step.1 == .server else { return step }
            defer { k += 1 }
            return (step.0, step.1, sequence[k] + step.2.replacingOccurrences(of: "IPID 7 ", with: ""))
        })).contains("ip-id-mismatch"))
        // 8-bit content without BODY=8BITMIME; declared, it is fine.
        let eightBit = hello + mailTo + [(0.07, C, "DATA\r\n"), (0.08, S, "354 go\r\n"), (0.09, C, "Subject: caf\u{e9}\r\n\r\nd\u{e9}j\u{e0} vu\r\n.\r\n"), (0.1, S, "250 ok\r\n")]
        #expect(ids(scripted(eightBit)).contains("eight-bit-without-8bitmime"))
        #expect(!ids(scripted(eightBit.map { ($0.0, $0.1, $0.2.replacingOccurrences(of: "MAIL FROM:<a@x>", with: "MAIL FROM:<a@x> BODY=8BITMIME")) })).contains("eight-bit-without-8bitmime"))
        // A bare LF inside the message (the SMTP smuggling ingredient).
        #expect(ids(scripted(hello + mailTo + [(0.07, C, "DATA\r\n"), (0.08, S, "354 go\r\n"), (0.09, C, "Subject: x\r\n\r\nline\nline\r\n.\r\n"), (0.1, S, "250 ok\r\n")])).contains("bare-line-ending"))
    }

    /// Yahoo's front end hands the connection on: the 221 comes with another TTL and nothing else
    /// in the dialogue shows a middlebox, so the change is information.
    @Test(.enabled(if: peerCapturesExpected, "../shared/peer-captures is not beside this clone"))
    func ttlChangeAtAProviderIsInformation() throws {
        let (x, _) = intercepts([peerDir.appendingPathComponent("suricata/smtp-bug-5981/input.pcap").path])
        let s = try #require(x.sessions.first)
        let ttl = try #require(FindingsEngine.session(s, x.transactions(of: s)).first { $0.id == .ttlMismatch })
        #expect(ttl.severity == .info)
    }

    @Test func ttlChangeIsAWarningWhenTheContentShowsAMiddlebox() {
        func ttl(_ r: (Session, [Transaction])) -> Severity? { FindingsEngine.session(r.0, r.1).first { $0.id == .ttlMismatch }?.severity }
        let plain = hello + [(0.03, C, "NOOP\r\n"), (0.04, S, "TTL 250 ok\r\n")]
        #expect(ttl(scripted(plain)) == .info)
        // A masked banner.
        let masked = [(0.0, S, "220 *****************************\r\n")] + plain.dropFirst()
        #expect(ids(scripted(masked)).contains("banner-masked"))
        #expect(ttl(scripted(masked)) == .warning)
        // XXXXXXXA in the EHLO reply.
        let stripped = plain.map { ($0.0, $0.1, $0.2.replacingOccurrences(of: "250 STARTTLS", with: "250 XXXXXXXA")) }
        #expect(ttl(scripted(stripped)) == .warning)
        // A 354 far faster than the server answers anything else, then the end of data from another TTL.
        let fast = hello + mailTo + [(0.07, C, "DATA\r\n"), (0.0702, S, "354 go\r\n"), (0.08, C, "x\r\n.\r\n"), (0.09, S, "TTL 250 ok queued as A\r\n")]
        #expect(ttl(scripted(fast, rtt: 0.040)) == .warning)
        #expect(ttl(scripted(fast, rtt: nil)) == .info)
        // STARTTLS offered, then called unknown.
        let answered = hello + [(0.03, C, "STARTTLS\r\n"), (0.04, S, "TTL 502 5.5.1 command not recognized\r\n")]
        #expect(ttl(scripted(answered)) == .warning)
    }

    @Test func credentialsWithoutTLS() {
        let plain = Base64.encode(Array("\u{0}alice\u{0}secret".utf8))
        let user = Base64.encode(Array("alice".utf8)), pass = Base64.encode(Array("secret".utf8))
        func fires(_ steps: [(Double, Side, String)]) -> Bool { ids(scripted(steps)).contains("cleartext-credentials") }
        // PLAIN with an initial response, PLAIN after a 334, LOGIN to the end, XOAUTH2: the secret went in clear.
        #expect(fires(hello + [(0.03, C, "AUTH PLAIN \(plain)\r\n"), (0.04, S, "235 ok\r\n")]))
        #expect(fires(hello + [(0.03, C, "AUTH PLAIN\r\n"), (0.04, S, "334 \r\n"), (0.05, C, "\(plain)\r\n"), (0.06, S, "535 no\r\n")]))
        #expect(fires(hello + [(0.03, C, "auth login\r\n"), (0.04, S, "334 VXNlcm5hbWU6\r\n"), (0.05, C, "\(user)\r\n"), (0.06, S, "334 UGFzc3dvcmQ6\r\n"), (0.07, C, "\(pass)\r\n"), (0.08, S, "235 ok\r\n")]))
        #expect(fires(hello + [(0.03, C, "AUTH XOAUTH2 \(plain)\r\n"), (0.04, S, "235 ok\r\n")]))
        // LOGIN cancelled before the password, a challenge-response mechanism, a refused mechanism: no secret sent.
        #expect(!fires(hello + [(0.03, C, "AUTH LOGIN\r\n"), (0.04, S, "334 VXNlcm5hbWU6\r\n"), (0.05, C, "\(user)\r\n"), (0.06, S, "334 UGFzc3dvcmQ6\r\n"), (0.07, C, "*\r\n"), (0.08, S, "501 cancelled\r\n")]))
        #expect(!fires(hello + [(0.03, C, "AUTH CRAM-MD5\r\n"), (0.04, S, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+\r\n"), (0.05, C, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"), (0.06, S, "235 ok\r\n")]))
        #expect(!fires(hello + [(0.03, C, "AUTH PLAIN\r\n"), (0.04, S, "504 unrecognized\r\n")]))
        // No AUTH.
        #expect(!fires(hello + mailTo))
        // AUTH after an accepted STARTTLS: encrypted on the wire, and not seen; seen in clear (a
        // firewall's decrypted export), not judged either.
        #expect(!fires(hello + [(0.03, C, "STARTTLS\r\n"), (0.04, S, "220 go ahead\r\n"), (0.05, C, "\u{16}\u{03}\u{01}\u{00}\u{05}AUTH PLAIN \(plain)\r\n")]))
        #expect(!fires(hello + [(0.03, C, "STARTTLS\r\n"), (0.04, S, "220 go ahead\r\n"), (0.05, C, "EHLO ws\r\n"), (0.06, S, "250 mx\r\n"), (0.07, C, "AUTH PLAIN \(plain)\r\n"), (0.08, S, "235 ok\r\n")]))
    }

    @Test func fastReplyNeedsAReplyFasterThanTheRoundTrip() {
        let steps = hello + mailTo + [(0.07, C, "DATA\r\n"), (0.0702, S, "354 go\r\n"), (0.08, C, "x\r\n.\r\n"), (0.0801, S, "250 ok queued as A\r\n")]
        #expect(ids(scripted(steps, rtt: 0.040)).contains("fast-reply"))
        // A handshake answered at once (a proxy that accepts the connection itself) does not hide it.
        #expect(ids(scripted(steps, rtt: 0.0001)).contains("fast-reply"))
        // No handshake seen: where the capture was taken is unknown, so nothing is judged.
        #expect(!ids(scripted(steps, rtt: nil)).contains("fast-reply"))
        // Captured beside the server (the ACK comes a round trip after the SYN-ACK): the replies
        // take only the server's own time, and a 354 is quicker to write than an EHLO reply.
        #expect(!ids(scripted(steps, rtt: 0.034, edit: { $0.handshakeHalves = (0.00005, 0.034) })).contains("fast-reply"))
        // Everything within a millisecond: too close to tell.
        let near = hello.map { ($0.0 / 100, $0.1, $0.2) } + mailTo.map { ($0.0 / 100, $0.1, $0.2) } + [(0.0007, C, "DATA\r\n"), (0.00071, S, "354 go\r\n")]
        #expect(!ids(scripted(near, rtt: nil)).contains("fast-reply"))
        // A slow handshake (a busy server's accept queue) but every reply as fast as the 354:
        // nothing answered early (the shape of a real capture in Arkime's test suite).
        let even = hello + mailTo + [(0.07, C, "DATA\r\n"), (0.0799, S, "354 go\r\n"), (0.09, C, "x\r\n.\r\n"), (0.12, S, "250 ok queued as A\r\n")]
        #expect(!ids(scripted(even, rtt: 0.42)).contains("fast-reply"))
    }

    @Test func everyFindingHasAnExplanationAndAReference() {
        var seen = Set<FindingID>()
        for e in Catalog.all {
            #expect(seen.insert(e.id).inserted, "duplicate id \(e.id)")
            #expect(e.explanation.count > 60)
            #expect(!e.reference.isEmpty)
            #expect(e.id.rawValue.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
        }
    }

    @Test func summaryAndExplainOnTheCommandLine() throws {
        let r = try runCLI(["read", "Captures/helo-no-hostname.pcap", "Captures/middlebox-store-and-forward-both-legs.pcapng"])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let summary = try #require(lines.firstIndex { $0.contains("SMTP sessions") })
        // Worst first: problems, then warnings, then information.
        let labels = lines[(summary + 1)...].compactMap { $0.split(separator: " ").first.map(String.init) }.filter { ["problems", "warnings", "info"].contains($0) }
        #expect(labels.first == "problems")
        #expect(labels == labels.sorted { ["problems": 0, "warnings": 1, "info": 2][$0]! < ["problems": 0, "warnings": 1, "info": 2][$1]! })
        #expect(r.stdout.contains("helo-refused-client-gave-up"))
        #expect(r.stdout.contains("intercepted-store-and-forward"))
        let e = try runCLI(["explain", "rset-after-recipients"])
        #expect(e.status == 0)
        #expect(e.stdout.contains("Reference: RFC 5321"))
        let unknown = try runCLI(["explain", "no-such-finding"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.split(separator: "\n").count == 1)
        let j = try runCLI(["read", "--format", "json", "Captures/helo-no-hostname.pcap"])
        let last = try #require(j.stdout.split(separator: "\n").last)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(obj["type"] as? String == "summary")
        #expect((obj["findings"] as? [[String: Any]])?.first?["id"] as? String == "helo-refused-client-gave-up")
    }
}
