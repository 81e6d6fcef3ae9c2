import Capture
import Engine
import Foundation
import Glibc
import SMTP
import ScopeCore
import Sessions
import Testing

/// Runs the command line with `input` on standard input (written as it is produced, so a capture
/// of several GB never touches the disk) and returns the exit status, stdout and peak RSS (KB).
func runCLIStreaming(_ arguments: [String], produce: (FileHandle) throws -> Void) throws -> (Int32, String, Int) {
    let binary = try #require(smtpscopeBinary())
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    p.standardError = FileHandle.nullDevice
    try p.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let box = Box()
    let handle = output.fileHandleForReading
    let reader = Thread { box.data = handle.readDataToEndOfFile() }
    reader.start()
    try produce(input.fileHandleForWriting)
    try input.fileHandleForWriting.close()
    p.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    let collected = box.data
    // The largest resident set of any child so far: an upper bound for this one.
    var usage = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &usage)
    return (p.terminationStatus, String(decoding: collected, as: UTF8.self), usage.ru_maxrss)
}

@Suite(.serialized) struct HostileInputTests {
    let greeting = Array("220 mx.example.org ESMTP\r\n".utf8)

    /// A message of 2.2 GB in one session: memory stays flat, the size is still counted exactly.
    @Test func multiGigabyteMessage() throws {
        let line = Array(String(repeating: "A", count: 998).utf8) + [13, 10]  // 1000 octets
        let lines = 2_200_000
        let (status, out, rss) = try runCLIStreaming(["read", "--format", "json", "-"]) { h in
            var b = PcapBuilder()
            var c = ScriptedConnection(clientPort: 40000)
            c.open(&b)
            c.server(&b, greeting)
            c.client(&b, Array("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n".utf8))
            c.server(&b, Array("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n".utf8))
            c.client(&b, Array("Subject: big\r\n\r\n".utf8))
            h.write(Data(b.data))
            var chunk: [UInt8] = []
            chunk.reserveCapacity(1000 * 1000)
            for _ in 0..<1000 { chunk += line }
            for _ in 0..<(lines / 1000) {
                var part = PcapBuilder()
                part.time = b.time
                c.client(&part, chunk)
                b.time = part.time
                h.write(Data(part.data.dropFirst(24)))
            }
            var end = PcapBuilder()
            end.time = b.time
            c.client(&end, Array(".\r\n".utf8))
            c.server(&end, Array("250 2.0.0 Ok: queued as BIG\r\n".utf8))
            c.close(&end)
            h.write(Data(end.data.dropFirst(24)))
        }
        #expect(status == 0)
        let t = try #require(out.split(separator: "\n").first { $0.contains("\"type\":\"transaction\"") })
        #expect(t.contains("\"size\":\(16 + lines * 1000)"))
        #expect(t.contains("\"queue_id\":\"BIG\""))
        #expect(rss < 150_000, "peak RSS \(rss) KB")
    }

    /// A million SYNs to port 25: the connection table stays bounded, every connection is
    /// accounted for, and the run ends.
    @Test func millionSyns() throws {
        let (status, out, rss) = try runCLIStreaming(["read", "--format", "json", "-"]) { h in
            var b = PcapBuilder()
            for i in 0..<1_000_000 {
                b.frame(src: (0x0a00_0000 | UInt32(i >> 16), UInt16(truncatingIfNeeded: i) | 1024), dst: (0xc633_6419, 25), seq: UInt32(i), ack: 0, flags: 0x02)
                if b.data.count > 1 << 20 {
                    h.write(Data(b.data))
                    let t = b.time
                    b = PcapBuilder()
                    b.time = t
                    b.reset()
                }
            }
            h.write(Data(b.data))
        }
        #expect(status == 0)
        let summary = try #require(out.split(separator: "\n").last)
        #expect(summary.contains("\"type\":\"summary\""))
        #expect(summary.contains("\"packets\":1000000"))
        #expect(rss < 400_000, "peak RSS \(rss) KB")
    }

    /// A small capture cut at every byte offset, and with random bytes flipped: a clear error or a
    /// partial result, never a crash or a hang (a crash would take this test process down).
    @Test func damagedCaptures() throws {
        let original = [UInt8](try Data(contentsOf: capturesDir.appendingPathComponent("plain-delivery.pcap")))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-damaged-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("x.pcap")
        var errors = 0
        for cut in 0..<original.count {
            try Data(original[..<cut]).write(to: file)
            let (_, e) = analyze([file.path])
            errors += e.isEmpty ? 0 : 1
            for err in e { #expect(!err.problem.isEmpty && !err.problem.contains("\n")) }
        }
        #expect(errors > original.count / 2)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            var damaged = original
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                damaged[Int.random(in: 0..<damaged.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            try Data(damaged).write(to: file)
            _ = analyze([file.path])
        }
    }

    /// Bytes from a capture never drive the terminal; JSON stays valid UTF-8; nothing is written
    /// to the working directory.
    @Test func hostileBytesAreEscaped() throws {
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40001)
        c.open(&b)
        c.server(&b, Array("220 mx \u{1b}[31mred\u{1b}[0m\r\n".utf8))
        c.client(&b, Array("EHLO \u{1b}]0;pwned\u{07}host\u{08}\u{08}\r\n".utf8))
        c.server(&b, Array("250 ok\r\n".utf8))
        c.client(&b, [UInt8]("MAIL FROM:<a@x>".utf8) + [0xff, 0xfe, 0x0d, 0x41] + Array("\r\nRCPT TO:<b@y>\r\nDATA\r\n".utf8))
        c.server(&b, Array("250 ok\r\n250 ok\r\n354 go\r\n".utf8))
        c.client(&b, Array("Subject: =?utf-8?q?=1B[2J=E2=80=AEevil?=\r\n\r\nx\r\n.\r\n".utf8))
        c.server(&b, Array("250 queued as X\r\n".utf8))
        c.close(&b)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-hostile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("hostile.pcap")
        try Data(b.data).write(to: file)
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        let text = try runCLI(["read", file.path], environment: [:])
        #expect(text.status == 0)
        let raw = Array(text.stdout.utf8)
        #expect(!raw.contains(0x1b), "no escape character reaches the terminal")
        #expect(!raw.contains(0x08) && !raw.contains(0x07))
        #expect(!text.stdout.contains("\u{202e}"), "no bidi override")
        #expect(zip(raw, raw.dropFirst()).allSatisfy { $0.0 != 0x0d || $0.1 == 0x0a }, "no bare CR")
        #expect(text.stdout.contains("\\x1b"))
        let json = try runCLI(["read", "--format", "json", file.path])
        for line in json.stdout.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil)
        }
        #expect(json.stdout.contains("\\\\xff"), "an invalid byte is written as the text \\xNN")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == before, "smtpscope writes no file it was not asked to")
    }

    /// Thousands of recipients, endless AUTH rounds, a flood of headers: named limits, crossed.
    @Test func limitsAreCrossedSafely() {
        var limits = SessionBuilder.Limits()
        limits.maxRecipients = 1000
        limits.maxTimelineEntries = 5000
        var opts = SMTPDecoder.Options()
        opts.maxAuthRounds = 8
        opts.headerLimit = 4096
        let builder = SessionBuilder(session: Session(id: 1, client: Endpoint(.v4(1), 1), server: Endpoint(.v4(2), 25), vantage: Vantage(file: 0), start: .zero, end: .zero), decoderOptions: opts, limits: limits)
        func send(_ d: Direction, _ s: String) { Array(s.utf8).withUnsafeBytes { builder.receive(d, $0, at: .zero) } }
        send(.toClient, "220 mx\r\n")
        send(.toServer, "EHLO c\r\nMAIL FROM:<a@x>\r\n")
        send(.toClient, "250 ok\r\n250 ok\r\n")
        for i in 0..<20_000 {
            send(.toServer, "RCPT TO:<r\(i)@y>\r\n")
            send(.toClient, "250 ok\r\n")
        }
        send(.toServer, "DATA\r\n")
        send(.toClient, "354 go\r\n")
        send(.toServer, String(repeating: "X-Header: value\r\n", count: 100_000) + "\r\nbody\r\n.\r\n")
        send(.toClient, "250 queued as Q\r\n")
        send(.toServer, "AUTH LOGIN\r\n")
        for _ in 0..<100 {
            send(.toClient, "334 VXNlcm5hbWU6\r\n")
            send(.toServer, "dXNlcg==\r\n")
        }
        let s = builder.close(reason: "fin", at: .zero)
        let t = builder.takeFinished()
        #expect(t.first?.rcptTo.count == 1000)
        #expect(t.first?.outcome == .queued)
        #expect(s.timeline.count == 5000)
        #expect(s.timelineDropped > 0)
        #expect(s.anomalies.map(\.name).contains(.headersTooLarge))
        #expect(s.anomalies.map(\.name).contains(.authRoundsLimit))
    }
}
