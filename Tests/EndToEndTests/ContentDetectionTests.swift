import Pipeline
import SMTP
import Foundation
import Testing

/// Rewrites TCP port `from` to `to` in an Ethernet/IPv4 classic pcap (checksums are not checked
/// by smtpscope, so they are left as they are).
func rewritePort(_ source: URL, to destination: URL, from: UInt16, to newPort: UInt16) throws {
    var d = [UInt8](try Data(contentsOf: source))
    var i = 24
    while i + 16 <= d.count {
        let caplen = Int(d[i + 8]) | Int(d[i + 9]) << 8 | Int(d[i + 10]) << 16 | Int(d[i + 11]) << 24
        let frame = i + 16
        if caplen >= 14 + 20 + 4, d[frame + 12] == 0x08, d[frame + 13] == 0x00, d[frame + 14 + 9] == 6 {
            let tcp = frame + 14 + Int(d[frame + 14] & 0x0f) * 4
            for p in [tcp, tcp + 2] where UInt16(d[p]) << 8 | UInt16(d[p + 1]) == from {
                d[p] = UInt8(newPort >> 8)
                d[p + 1] = UInt8(newPort & 0xff)
            }
        }
        i = frame + caplen
    }
    try Data(d).write(to: destination)
}

@Suite struct ContentDetectionTests {
    let moved = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-port-10025-\(getpid()).pcap")

    /// SMTP on a port nobody configured is found by its content: a 220 greeting answered by EHLO.
    @Test func smtpOnAnotherPortIsFoundByContent() throws {
        defer { try? FileManager.default.removeItem(at: moved) }
        try rewritePort(capturesDir.appendingPathComponent("plain-delivery.pcap"), to: moved, from: 25, to: 10025)
        let (c, _) = analyze([moved.path])
        #expect(c.sessions.count == 1)
        #expect(c.sessions.first?.server.port == 10025)
        #expect(c.transactions.first?.0.outcome == .queued)
        var off = AnalyzerOptions()
        off.detectByContent = false
        #expect(analyze([moved.path], options: off).0.sessions.isEmpty)
        var port = off
        port.ports.insert(10025)
        #expect(analyze([moved.path], options: port).0.sessions.count == 1)
    }

    /// Other protocols are not taken for SMTP: an FTP-like 220 greeting answered by USER, HTTP.
    @Test func otherProtocolsAreNotSMTP() {
        #expect(SMTPDetector.classify(server: Array("220 ftp ready\r\n".utf8), client: Array("USER anonymous\r\n".utf8)) == .no)
        #expect(SMTPDetector.classify(server: [], client: Array("GET / HTTP/1.1\r\n".utf8)) == .no)
        #expect(SMTPDetector.classify(server: Array("HTTP/1.1 200 OK".utf8), client: []) == .no)
        #expect(SMTPDetector.classify(server: Array("220 mx ESMTP\r\n".utf8), client: Array("EHLO c\r\n".utf8)) == .yes)
        #expect(SMTPDetector.classify(server: Array("220 mx ESMTP\r\n".utf8), client: Array("HELO\r\n".utf8)) == .yes)
        #expect(SMTPDetector.classify(server: Array("22".utf8), client: []) == .undecided)
    }
}
/// A session found by content replays what was held with each packet's own time, TTL and IPv4 ID.
@Suite struct ContentDetectedTimelineTests {
    let moved = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-timeline-10025-\(getpid()).pcap")

    @Test func sameTimelineAsOnPort25() throws {
        defer { try? FileManager.default.removeItem(at: moved) }
        let original = capturesDir.appendingPathComponent("plain-delivery.pcap")
        try rewritePort(original, to: moved, from: 25, to: 10025)
        let (a, _) = analyze([original.path])
        let (b, _) = analyze([moved.path])
        let s = try #require(a.sessions.first), t = try #require(b.sessions.first)
        #expect(t.server.port == 10025)
        #expect(t.start == s.start)
        #expect(t.end == s.end)
        #expect(t.timeline.count == s.timeline.count)
        #expect(t.timeline.count > 5)
        for (x, y) in zip(s.timeline, t.timeline) {
            #expect(x.line == y.line)
            #expect(x.time == y.time, "\(String(decoding: x.line, as: UTF8.self))")
            #expect(x.ttl == y.ttl)
            #expect(x.ipID == y.ipID)
        }
        // The greeting came before the EHLO.
        #expect(t.timeline[0].time < t.timeline[1].time)
        let x = try #require(a.transactions.first?.0), y = try #require(b.transactions.first?.0)
        #expect(x.start == y.start)
        #expect(x.end == y.end)
    }
}
