import Foundation
@testable import Reporting
import Vocabulary
import Sessions
import Testing

/// The HTML report's escaping and its data block, without a browser (the end-to-end tests load
/// the pages in Chromium).
@Suite struct HTMLReportTests {
    func scriptJSON(_ s: String) -> String {
        var out: [UInt8] = []
        Array(s.utf8).withUnsafeBytes { HTMLEscape.scriptJSON($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func textEscapesMarkupAndQuotes() {
        #expect(HTMLEscape.text("<script>a&b</script> \"x\" 'y'") == "&lt;script&gt;a&amp;b&lt;/script&gt; &quot;x&quot; &#39;y&#39;")
        // Captured bytes are made printable first: control bytes, bidi overrides, invalid UTF-8.
        #expect(HTMLEscape.wire([0x3c, 0x62, 0x3e, 0x1b, 0xff] + Array("\u{202e}".utf8)) == "&lt;b&gt;\\x1b\\xff\\u{202e}")
    }

    @Test func scriptJSONCannotCloseTheElement() throws {
        let json = #"{"a":"</script><!-- & ]]> \#u{2028}\#u{2029} é"}"#
        let safe = scriptJSON(json)
        #expect(!safe.contains("<") && !safe.contains(">") && !safe.contains("&"))
        #expect(!safe.contains("\u{2028}") && !safe.contains("\u{2029}"))
        // Still the same JSON value.
        let a = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        let b = try JSONSerialization.jsonObject(with: Data(safe.utf8)) as? [String: String]
        #expect(a != nil && a == b)
    }

    /// A page written from records: one data block, one script, the CSP naming the script's hash,
    /// captured text only inside the (escaped) data block, server log lines where a join gave them.
    @Test func pageFromRecords() throws {
        let (s, txns) = built(dialogue.map { $0.replacingOccurrences(of: "ws.example.net", with: "<script>alert(1)</script>") })
        let report = HTMLReport(path: "/dev/null", captureNames: ["a<b>.pcap"])
        report.serverLog = { session in
            [ServerLogLine(time: session.start.adding(seconds: 0.5), text: "postfix/smtpd[1]: connect from </script>")]
        }
        report.write(.session(s, txns, []))
        var summary = RunSummary()
        summary.sessions = 1
        report.write(.summary(summary, packets: 3))
        let page = String(decoding: report.render(), as: UTF8.self)
        #expect(page.components(separatedBy: "<script").count == 3)  // the data block and the script
        #expect(page.components(separatedBy: "</script>").count == 3)
        #expect(!page.contains("<script>alert"))
        #expect(!page.contains("a<b>"))
        #expect(page.contains("a&lt;b&gt;.pcap"))
        #expect(!page.contains("AGFsaWNlAHNlY3JldA"))  // AUTH PLAIN credentials stay redacted
        // The CSP's hash is taken over exactly the script the page carries.
        let script = try #require(page.range(of: "<script>", options: .backwards))
        let scriptEnd = try #require(page.range(of: "</script>", range: script.upperBound..<page.endIndex))
        #expect(String(page[script.upperBound..<scriptEnd.lowerBound]) == HTMLTemplate.script)
        #expect(page.contains(HTMLReport.csp(script: HTMLTemplate.script, style: HTMLTemplate.style)))
        // The data block parses, and carries the session, its timeline and the log line.
        let start = try #require(page.range(of: "<script type=\"application/json\" id=\"data\">"))
        let end = try #require(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
        let data = try #require(try JSONSerialization.jsonObject(with: Data(page[start.upperBound..<end.lowerBound].utf8)) as? [String: Any])
        #expect(data["log"] as? Bool == true)
        let session = try #require((data["sessions"] as? [[String: Any]])?.first)
        #expect(session["id"] as? Int == 5)
        #expect((session["helo"] as? String)?.contains("<script>alert(1)</script>") == true)
        let log = try #require(session["g"] as? [[Any]])
        #expect(log.count == 1 && log[0][1] as? String == "postfix/smtpd[1]: connect from </script>")
        #expect((log[0][0] as? Double).map { abs($0 - 500) < 0.01 } == true)
    }
}
