import Correlation
import Foundation
import Testing

/// A relayed connection, both legs in one capture, whose client sends the end of the message and
/// QUIT in one segment (as pipelining clients do): the client leg 192.0.2.10:40001 and the
/// middlebox's own connection 192.0.2.10:40002, both to 198.51.100.25:25.
func quitWithEndOfDataCapture() throws -> URL {
    var b = PcapBuilder()
    var c = ScriptedConnection(clientPort: 40001), s = ScriptedConnection(clientPort: 40002)
    // Two TCP connections (the middlebox's own sequence numbers), not one seen twice.
    s.cseq = 70_000
    s.sseq = 90_000
    func lines(_ t: String) -> [UInt8] { Array(t.utf8) }
    c.open(&b)
    s.open(&b)
    s.server(&b, lines("220 mx.example.org ESMTP Postfix\r\n"))
    c.server(&b, lines("220 mx.example.org ESMTP Postfix\r\n"))
    for (command, reply) in [("EHLO ws07.example.net", "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME"),
                             ("MAIL FROM:<erin@example.net>", "250 2.1.0 Ok"), ("RCPT TO:<frank@example.org>", "250 2.1.5 Ok"),
                             ("DATA", "354 End data with <CR><LF>.<CR><LF>")] {
        c.client(&b, lines(command + "\r\n"))
        s.client(&b, lines(command + "\r\n"))
        s.server(&b, lines(reply + "\r\n"))
        c.server(&b, lines(reply + "\r\n"))
    }
    let body = "From: <erin@example.net>\r\nTo: <frank@example.org>\r\nSubject: Pipelined quit\r\nMessage-ID: <pipelined-quit.1@ws07.example.net>\r\n\r\nHello.\r\n"
    // The end of the message and QUIT in one segment on the client leg; the middlebox sends
    // them on separately.
    c.client(&b, lines(body + ".\r\nQUIT\r\n"))
    s.client(&b, lines(body + ".\r\n"))
    s.server(&b, lines("250 2.0.0 Ok: queued as 4F3B2A17\r\n"))
    c.server(&b, lines("250 2.0.0 Ok: queued as 4F3B2A17\r\n"))
    s.client(&b, lines("QUIT\r\n"))
    s.server(&b, lines("221 2.0.0 Bye\r\n"))
    c.server(&b, lines("221 2.0.0 Bye\r\n"))
    s.close(&b)
    c.close(&b)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-quit-with-eod-\(getpid()).pcap")
    try Data(b.data).write(to: url)
    return url
}

/// The two-leg ladder keeps the order the lines crossed the wire in.
@Suite struct LadderOrderTests {
    @Test func theLadderKeepsWireOrderWhenQuitFollowsTheMessageInOneSegment() throws {
        let url = try quitWithEndOfDataCapture()
        defer { try? FileManager.default.removeItem(at: url) }
        let (_, found) = intercepts([url.path])
        let x = try #require(found.first, "the relay is not paired")
        let message = try #require(x.actions.firstIndex { $0.isMessage })
        let quit = try #require(x.actions.firstIndex { !$0.isReply && String(decoding: $0.line, as: UTF8.self) == "QUIT" })
        #expect(x.actions[message].clientClockTime == x.actions[quit].clientClockTime, "the capture must put both in one segment")
        #expect(message < quit, "QUIT drawn before the message it followed")
        // And so in the text.
        let r = try runCLI(["read", url.path])
        let ladder = try #require(r.stdout.components(separatedBy: "client leg  ").last).split(separator: "\n")
        let m = try #require(ladder.firstIndex { $0.contains("▸ message") })
        let q = try #require(ladder.firstIndex { $0.range(of: #"^  \+[0-9.]+ +QUIT "#, options: .regularExpression) != nil })
        #expect(m < q, "\(ladder)")
    }
}
