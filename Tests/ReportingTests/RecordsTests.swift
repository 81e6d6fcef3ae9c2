@testable import Findings
import Foundation
@testable import Reporting
import SMTP
import Vocabulary
import Sessions
import Testing

/// A session built in code (no capture, no pipeline) from "C: …"/"S: …" lines.
func built(_ lines: [String], close: CloseReason = .fin) -> (Session, [Transaction]) {
    let b = SessionBuilder(session: Session(id: 5, client: Endpoint(.v4(0xc000_020a), 50000), server: Endpoint(.v4(0xc633_6419), 25), vantage: Vantage(file: 0), start: Timestamp(seconds: 1_700_000_000, nanoseconds: 0), end: .zero))
    var txns: [Transaction] = []
    var t: Int64 = 0
    for line in lines {
        t += 1_000_000
        Array((line.dropFirst(3) + "\r\n").utf8).withUnsafeBytes { b.receive(line.hasPrefix("C: ") ? .toServer : .toClient, $0, at: Timestamp(seconds: 1_700_000_000, nanoseconds: t)) }
        txns += b.takeFinished()
    }
    let s = b.close(reason: close, at: Timestamp(seconds: 1_700_000_001, nanoseconds: 0))
    return (s, txns + b.takeFinished())
}

func object(_ write: (inout JSONWriter) -> Void) throws -> [String: Any] {
    var w = JSONWriter()
    write(&w)
    let text = String(decoding: w.bytes, as: UTF8.self)
    return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
}

let dialogue = [
    "S: 220 mx.example.org ESMTP", "C: EHLO ws.example.net", "S: 250-mx.example.org", "S: 250 AUTH PLAIN",
    "C: AUTH PLAIN AGFsaWNlAHNlY3JldA==", "S: 235 ok",
    "C: MAIL FROM:<a@example.net>", "S: 250 ok", "C: RCPT TO:<b@example.org>", "S: 250 ok", "C: RSET", "S: 250 ok",
    "C: QUIT", "S: 221 bye",
]

/// The JSON records and the text timeline of values built in code: typed values are written as
/// their raw values, keys in the documented order.
@Suite struct RecordsTests {
    @Test func sessionRecordWritesTheTypedValues() throws {
        let (s, _) = built(dialogue)
        let o = try object { JSONRecords.session(s, captureName: "x.pcap", interface: 0, into: &$0) }
        #expect(o["type"] as? String == "session")
        #expect(o["session"] as? Int == 5)
        #expect(o["close"] as? String == "quit")
        #expect(o["quit_sent"] as? Bool == true)
        let auth = try #require(o["auth"] as? [String: Any])
        #expect(auth["result"] as? String == "success" && auth["mechanism"] as? String == "PLAIN" && auth["user"] as? String == "alice")
        #expect(o["client"] as? String == "192.0.2.10:50000" && o["server"] as? String == "198.51.100.25:25")
        #expect((o["findings"] as? [Any])?.isEmpty == true)
    }

    @Test(arguments: CloseReason.allCases)
    func everyCloseReasonIsWrittenAsItsRawValue(reason: CloseReason) throws {
        var (s, _) = built(Array(dialogue.prefix(4)))
        s.close = reason
        let o = try object { JSONRecords.session(s, captureName: "x.pcap", interface: nil, into: &$0) }
        #expect(o["close"] as? String == reason.rawValue)
        #expect(SessionText(color: false).render(s, transactions: [], captureName: nil).contains("closed: "))
    }

    @Test func transactionRecordWritesTheResetCause() throws {
        let (s, txns) = built(dialogue)
        let t = try #require(txns.first)
        let o = try object { JSONRecords.transaction(t, session: s.client, server: s.server, timeline: s.timeline, captureName: "x.pcap", into: &$0) }
        #expect(o["outcome"] as? String == "reset")
        #expect(o["reset_by"] as? String == "RSET")
        #expect(o["rcpt_to"] as? [String] == ["b@example.org"])
        #expect(o["index"] as? Int == 1 && o["session"] as? Int == 5)
    }

    @Test func keysComeInTheDocumentedOrder() {
        let (s, _) = built(dialogue)
        var w = JSONWriter()
        JSONRecords.session(s, captureName: "x.pcap", interface: 0, into: &w)
        let text = String(decoding: w.bytes, as: UTF8.self)
        let order = ["\"type\"", "\"session\"", "\"client\"", "\"server\"", "\"community_id\"", "\"capture\"", "\"start\"", "\"end\"", "\"banner\"", "\"helo\"", "\"auth\"", "\"close\"", "\"anomalies\"", "\"findings\""]
        let positions = order.compactMap { text.range(of: $0 + ":")?.lowerBound }
        #expect(positions.count == order.count)
        #expect(positions == positions.sorted())
    }

    @Test func findingsAreWrittenWithTheirIdAndReference() throws {
        let (s, _) = built(dialogue)
        let f = Finding(id: .cleartextCredentials, severity: .warning, time: s.start, message: "AUTH PLAIN sent the password without TLS", session: 5)
        let o = try object { JSONRecords.session(s, captureName: "x.pcap", interface: 0, findings: [f], into: &$0) }
        let list = try #require(o["findings"] as? [[String: Any]])
        #expect(list.first?["id"] as? String == "cleartext-credentials")
        #expect(list.first?["severity"] as? String == "warning")
        #expect(list.first?["reference"] as? String == Catalog.entry(.cleartextCredentials).reference)
        let text = SessionText(color: false).render(s, transactions: [], captureName: nil, findings: [f])
        #expect(text.contains("⚠ cleartext-credentials"))
    }

    @Test func theTextTimelineSaysTheOutcomeAndTheEnd() {
        let (s, txns) = built(dialogue)
        let text = SessionText(color: false).render(s, transactions: txns, captureName: "x.pcap")
        #expect(text.contains("session 5"))
        #expect(text.contains("reset by RSET"))
        #expect(text.contains("AUTH PLAIN success"))
        #expect(text.contains("closed: QUIT"))
        #expect(!text.contains("\u{1b}"), "no colour when not asked")
        let (s2, t2) = built(Array(dialogue.prefix(4)), close: .rst)
        #expect(SessionText(color: false).render(s2, transactions: t2, captureName: nil).contains("connection reset (RST)"))
    }
}
