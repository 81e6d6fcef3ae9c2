import Capture
import Pipeline
import Foundation
import Packets
import Sessions
import Testing

/// Writes `b` to a temporary file, analyses it, removes it.
func analyzeBuilt(_ b: PcapBuilder, name: String) throws -> (Collector, PacketStats) {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-\(name)-\(getpid()).pcap")
    defer { try? FileManager.default.removeItem(at: url) }
    try Data(b.data).write(to: url)
    return analyzeWithStats([url.path])
}

/// Large-send-offload super-frames (read with the frame's length, counted, no gap).
@Suite struct OffloadCaptureTests {
    /// The oversize-message delivery rewritten into what Npcap shows on a Windows client with
    /// Large Send Offload: 14 super-frames with IPv4 Total Length 0. It reads as the original.
    @Test func windowsLSOCaptureReadsLikeTheOriginal() throws {
        let (lso, lsoStats) = analyzeWithStats([capturesDir.appendingPathComponent("lso-offload-windows.pcap").path])
        let (plain, plainStats) = analyzeWithStats([capturesDir.appendingPathComponent("oversize-message.pcap").path])
        let s = try #require(lso.sessions.first)
        let p = try #require(plain.sessions.first)
        #expect(lso.sessions.count == 1)
        #expect(s.gaps == [0, 0])
        #expect(s.gapBytes == [0, 0])
        #expect(s.bytes == p.bytes)
        #expect(s.tcp[0].offloadFrames == 14)
        #expect(s.tcp[1].offloadFrames == 0)
        #expect(p.tcp[0].offloadFrames == 0)
        #expect(lsoStats.offloadFrames == 14)
        #expect(lsoStats.malformed == 0)
        #expect(plainStats.offloadFrames == 0)
        let a = lso.transactions(of: s), b = plain.transactions(of: p)
        #expect(a.count == 1)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.mailFrom == y.mailFrom)
            #expect(x.rcptTo == y.rcptTo)
            #expect(x.outcome == y.outcome)
            #expect(x.size == y.size)
            #expect(x.size == 178_249)
            #expect(x.messageComplete)
            #expect(!x.gapped)
            #expect(x.headers?.messageID == "<20260302094500.1052@ws01.example.net>")
            #expect(x.headers?.messageID == y.headers?.messageID)
        }
    }

    /// Built frames: a message sent as one super-frame with Total Length 0, and acknowledgements
    /// padded to the Ethernet minimum with non-zero bytes, which stay ignored.
    @Test func builtSuperFrameAndPaddedFrames() throws {
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40001)
        c.open(&b)
        c.server(&b, Array("220 mx ESMTP\r\n".utf8))
        c.serverPaddedAck(&b)
        c.client(&b, Array("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n".utf8))
        c.server(&b, Array("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n".utf8))
        let body = Array("Subject: big\r\nMessage-ID: <lso@x>\r\n\r\n".utf8) + Array(repeating: Array("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrs\r\n".utf8), count: 200).flatMap { $0 }
        c.clientSuperFrame(&b, body + Array(".\r\n".utf8))
        c.serverPaddedAck(&b)
        c.server(&b, Array("250 2.0.0 Ok: queued as LSO\r\n".utf8))
        c.client(&b, Array("QUIT\r\n".utf8))
        c.server(&b, Array("221 bye\r\n".utf8))
        c.close(&b)
        let (r, stats) = try analyzeBuilt(b, name: "lso-built")
        let s = try #require(r.sessions.first)
        #expect(s.gaps == [0, 0])
        #expect(s.anomalies.isEmpty)
        #expect(s.tcp[0].offloadFrames == 1)
        #expect(s.tcp[1].offloadFrames == 0)
        #expect(stats.offloadFrames == 1)
        #expect(s.close == .quit)
        let t = try #require(r.transactions(of: s).first)
        #expect(t.outcome == .queued)
        #expect(t.queueID == "LSO")
        #expect(t.size == body.count)
        #expect(t.headers?.messageID == "<lso@x>")
    }
}
