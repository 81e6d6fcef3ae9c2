import Findings
import Foundation
import SMTP
import ScopeCore
import Sessions
import Testing

/// A scripted session for rules no capture shows: (seconds since start, side, bytes).
func scripted(_ steps: [(Double, Side, String)], ttl: UInt8 = 64, close: String = "fin", rtt: Double? = nil, edit: (inout Session) -> Void = { _ in }) -> (Session, [Transaction]) {
    let b = SessionBuilder(session: Session(id: 1, client: Endpoint(.v4(0xc000_020a), 50000), server: Endpoint(.v4(0xc633_6419), 25), vantage: Vantage(file: 0), start: .zero, end: .zero))
    var txns: [Transaction] = []
    for (t, side, text) in steps {
        let time = Timestamp(nanoseconds: Int64(t * 1e9))
        if text.hasPrefix("GAP ") {
            b.gap(side == .client ? .toServer : .toClient, length: Int(text.dropFirst(4))!, at: time)
        } else {
            // "TTL …": the line arrives with another TTL.
            let other = text.hasPrefix("TTL ")
            Array((other ? String(text.dropFirst(4)) : text).utf8).withUnsafeBytes { b.receive(side == .client ? .toServer : .toClient, $0, at: time, ttl: other ? 128 : ttl) }
        }
        txns += b.takeFinished()
    }
    var s = b.close(reason: close, at: Timestamp(nanoseconds: Int64(((steps.last?.0 ?? 0) + 0.001) * 1e9)))
    txns += b.takeFinished()
    s.handshakeRTT = rtt
    edit(&s)
    return (s, txns)
}

func ids(_ r: (Session, [Transaction])) -> Set<String> { Set(FindingsEngine.session(r.0, r.1).map(\.id)) }
func captureFindings(_ names: [String]) -> Set<String> {
    let (x, found) = intercepts(names.map { capturesDir.appendingPathComponent($0).path })
    var all = Set<String>()
    for s in x.sessions { all.formUnion(FindingsEngine.session(s, x.transactions(of: s)).map(\.id)) }
    for i in found { all.formUnion(FindingsEngine.intercept(i).map(\.id)) }
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
        ("relay-connection-reuse.pcap", ["rset-connection-reuse", "closed-without-quit"]),
        ("middlebox-inline-rewriter-client-leg.pcap", ["banner-masked", "starttls-masked"]),
        ("middlebox-inline-rewriter-server-leg.pcap", ["command-masked"]),
        ("middlebox-starttls-answered-client-leg.pcap", ["starttls-answer-inconsistent"]),
        ("plain-delivery.pcap", ["starttls-not-used"]),
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

    /// Ordinary deliveries raise no warning and no problem (only information, such as STARTTLS
    /// offered but not used).
    @Test(arguments: ["plain-delivery.pcap", "msmtp-delivery.pcap", "smtplib-delivery.pcap", "pipelining-rcpt-refused.pcap", "auth-plain.pcap", "bdat-chunking.pcap", "ipv6-delivery.pcap", "cooked-any.pcap", "starttls.pcap", "typed-session.pcap", "large-message-impaired.pcap", "two-clients-same-message.pcap"])
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
        #expect(ids(scripted(hello + mailTo, close: "rst")).contains("rst-mid-transaction"))
        #expect(ids(scripted(hello + mailTo + [(0.07, C, "DATA\r\n"), (0.08, S, "354 go\r\n"), (0.09, C, "GAP 100")])).contains("capture-gap"))
        #expect(ids(scripted(hello + [(0.03, C, "NOOP\r\n"), (0.04, S, "TTL 250 ok\r\n")])).contains("ttl-mismatch"))
    }

    @Test func fastReplyNeedsAReplyFasterThanTheRoundTrip() {
        let steps = hello + mailTo + [(0.07, C, "DATA\r\n"), (0.0702, S, "354 go\r\n"), (0.08, C, "x\r\n.\r\n"), (0.0801, S, "250 ok queued as A\r\n")]
        #expect(ids(scripted(steps, rtt: 0.040)).contains("fast-reply"))
        #expect(!ids(scripted(steps, rtt: 0.0001)).contains("fast-reply"))
        #expect(!ids(scripted(steps, rtt: nil)).contains("fast-reply"))
    }

    @Test func everyFindingHasAnExplanationAndAReference() {
        var seen = Set<String>()
        for e in Catalog.all {
            #expect(seen.insert(e.id).inserted, "duplicate id \(e.id)")
            #expect(e.explanation.count > 60)
            #expect(!e.reference.isEmpty)
            #expect(e.id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
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
        #expect(unknown.status == 1)
        #expect(unknown.stderr.split(separator: "\n").count == 1)
        let j = try runCLI(["read", "--format", "json", "Captures/helo-no-hostname.pcap"])
        let last = try #require(j.stdout.split(separator: "\n").last)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(obj["type"] as? String == "summary")
        #expect((obj["findings"] as? [[String: Any]])?.first?["id"] as? String == "helo-refused-client-gave-up")
    }
}
