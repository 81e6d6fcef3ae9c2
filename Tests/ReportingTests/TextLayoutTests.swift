import Foundation
@testable import Reporting
import SMTP
import Sessions
import Testing
import Vocabulary

/// Display width, cutting and padding, durations, session ranges, and the timeline laid out in a
/// width: built in code, no capture.
@Suite struct TextLayoutTests {
    @Test func displayWidthCountsColumnsNotBytesOrCharacters() {
        #expect(Columns.width("abc") == 3)
        #expect(Columns.width("…") == 1)
        #expect(Columns.width("日本語") == 6)
        #expect(Columns.width("🔓") == 2)
        #expect(Columns.width("e\u{301}") == 1)  // e + combining acute
        #expect(Columns.width("\u{1b}[31mred\u{1b}[0m") == 3)
        #expect(Columns.width("Grüße") == 5)
    }

    @Test func fittingCutsToTheColumnsWithAnEllipsisInside() {
        #expect(Columns.fit("short", 10) == "short")
        #expect(Columns.fit("0123456789ab", 10) == "012345678…")
        #expect(Columns.width(Columns.fit("0123456789ab", 10)) == 10)
        // A wide character that would straddle the edge is left out whole.
        let cut = Columns.fit("ab日本語", 5)
        #expect(cut == "ab日…")
        #expect(Columns.width(cut) <= 5)
        // Colour sequences are kept whole and closed after the cut.
        let red = Columns.fit("\u{1b}[31m0123456789\u{1b}[0m", 5)
        #expect(red == "\u{1b}[31m0123…\u{1b}[0m")
        #expect(Columns.width(red) == 5)
    }

    @Test func paddingByColumnsKeepsTheNextColumnInPlace() {
        let rows = ["plain", "日本", "cut…", "\u{1b}[33mwarn\u{1b}[0m"].map { Columns.pad($0, 8) + "|" }
        for r in rows { #expect(Columns.width(r) == 9, "\(r)") }
    }

    @Test func durationsFollowOneRule() {
        #expect(DurationText.format(0.000123) == "123 µs")
        #expect(DurationText.format(0.0009994) == "999 µs")
        #expect(DurationText.format(0.0009996) == "1.00 ms")
        #expect(DurationText.format(0.00712) == "7.12 ms")
        #expect(DurationText.format(0.0212) == "21.2 ms")
        #expect(DurationText.format(0.452) == "452 ms")
        #expect(DurationText.format(0.9996) == "1.00 s")
        #expect(DurationText.format(1.5) == "1.50 s")
        #expect(DurationText.format(10.4) == "10.4 s")
        #expect(DurationText.format(452) == "452 s")
        #expect(DurationText.format(1000) == "16 min 40 s")
        #expect(DurationText.format(7500) == "2 h 05 min")
        #expect(DurationText.format(-0.452) == "-452 ms")
    }

    @Test func sessionRangesStayCompactAndReadAsRanges() {
        var r = SessionRanges()
        for n in 1...31 { r.insert(n) }
        #expect(r.ranges == [1...31])
        #expect(r.text == "sessions 1–31")
        var s = SessionRanges()
        for n in [12, 2, 9, 5, 11, 10, 9] { s.insert(n) }
        #expect(s.text == "sessions 2, 5, 9–12")
        #expect(s.count == 6)
        // Filling a hole joins the ranges on both sides.
        var t = SessionRanges()
        for n in [1, 2, 4, 5, 3] { t.insert(n) }
        #expect(t.ranges == [1...5])
        var one = SessionRanges()
        one.insert(7)
        #expect(one.text == "session 7")
        // A million sessions in order are one range.
        var many = SessionRanges()
        for n in 1...1_000_000 { many.insert(n) }
        #expect(many.ranges.count == 1)
    }

    @Test func aCutReplyDoesNotMoveTheDelayColumn() {
        let (s, txns) = built([
            "S: 220 mx.example.org ESMTP", "C: EHLO ws.example.net",
            "S: 250-mx.example.org", "S: 250-PIPELINING", "S: 250-SIZE 10240000", "S: 250-STARTTLS", "S: 250-AUTH PLAIN LOGIN", "S: 250 8BITMIME",
            "C: MAIL FROM:<alice@example.net>", "S: 250 2.1.0 Ok", "C: RCPT TO:<日本語のとても長い名前の受取人@example.org>", "S: 250 2.1.5 Ok",
            "C: QUIT", "S: 221 2.0.0 Bye",
        ], close: .quit)
        var layout = TextLayout()
        layout.width = 90
        let text = SessionText(color: true, layout: layout).render(s, transactions: txns, captureName: nil)
        let rows = text.split(separator: "\n").map(String.init).filter { $0.contains(" C ") }
        #expect(rows.count == 4)
        // The delay (`µs`/`ms`) ends every command row at the same column, cut or not, colour or not.
        let ends = Set(rows.map { r in Columns.width(r.components(separatedBy: "\u{1b}[2m").dropLast().joined(separator: "\u{1b}[2m")) })
        #expect(ends.count == 1, "\(rows)")
        for r in text.split(separator: "\n") where r.contains(" C ") { #expect(Columns.width(String(r)) <= 90, "\(r)") }
        #expect(text.contains("…"))
        // Without a width nothing is cut.
        let whole = SessionText(color: false).render(s, transactions: txns, captureName: nil)
        #expect(!whole.contains("…"))
        #expect(whole.contains("8BITMIME"))
    }
}
