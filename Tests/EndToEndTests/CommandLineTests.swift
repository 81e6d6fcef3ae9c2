import Foundation
import Pipeline
import TLS
import Testing

let packetFixtures = "Tests/Fixtures/packets/"

/// The command line's contract: one clear line on stderr naming the file and the problem, a
/// non-zero status, and whatever could be read still reported.
@Suite struct CommandLineTests {
    @Test func missingFile() throws {
        let r = try runCLI(["read", "/nonexistent/x.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr == "smtpscope: /nonexistent/x.pcap: no such file\n")
    }

    @Test func notACapture() throws {
        let r = try runCLI(["read", packetFixtures + "not-a-capture.txt"])
        #expect(r.status == 1)
        #expect(r.stderr == "smtpscope: \(packetFixtures)not-a-capture.txt: not a capture file (neither pcap nor pcapng)\n")
    }

    @Test func cutShortFileStillReportsWhatWasRead() throws {
        let r = try runCLI(["read", "--format", "json", packetFixtures + "cut-short.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("smtpscope: \(packetFixtures)cut-short.pcap: file is cut short"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stdout.contains("\"type\":\"session\""), "the session begun before the cut is reported")
    }

    @Test func unsupportedLinkType() throws {
        let r = try runCLI(["read", packetFixtures + "unsupported-linktype.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("link type 147"))
        #expect(r.stderr.contains("is not supported"))
    }

    @Test func mixedLinkTypes() throws {
        let r = try runCLI(["read", packetFixtures + "mixed-linktypes.pcapng"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("mixes link types"))
    }

    @Test func oneBadFileAmongGoodOnes() throws {
        let r = try runCLI(["read", "Captures/plain-delivery.pcap", "/nonexistent/y.pcap"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("queued as"))
        #expect(r.stderr == "smtpscope: /nonexistent/y.pcap: no such file\n")
    }

    @Test func standardInput() throws {
        let binary = try #require(smtpscopeBinary())
        let p = Process()
        p.executableURL = binary
        p.arguments = ["read", "-"]
        p.standardInput = try FileHandle(forReadingFrom: capturesDir.appendingPathComponent("plain-delivery.pcap"))
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(String(decoding: data, as: UTF8.self).contains("queued as"))
    }

    @Test func keyLogDecryptsAndMarksTheLines() throws {
        let r = try runCLI(["read", "--no-color", "--keylog", "Captures/tls13-starttls-msmtp.keys", "Captures/tls13-starttls-msmtp.pcap"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("queued as 65150FE08B"))
        #expect(r.stdout.contains("· decrypted"))
        #expect(r.stdout.contains("C  MAIL FROM:<alice@example.net>") && r.stdout.contains("🔓"))
        let json = try runCLI(["read", "--format", "json", "--keylog", "/nonexistent/a.keys", "--keylog", "Captures/tls13-starttls-msmtp.keys", "Captures/tls13-starttls-msmtp.pcap"])
        #expect(json.status == 64, "an unreadable key log is a usage error")
        #expect(json.stderr.contains("/nonexistent/a.keys"))
        let plain = try runCLI(["read", "--no-color", "Captures/tls13-starttls-msmtp.pcap"])
        #expect(!plain.stdout.contains("queued as"))
        #expect(!plain.stdout.contains("🔓"))
    }

    /// Keys injected into a pcapng (Decryption Secrets Block) are used without --keylog. The
    /// capture is made here with Wireshark's editcap.
    @Test func keysInThePcapngAreUsed() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-dsb-\(getpid()).pcapng")
        defer { try? FileManager.default.removeItem(at: out) }
        let editcap = Process()
        editcap.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        editcap.arguments = ["editcap", "--inject-secrets", "tls," + capturesDir.appendingPathComponent("tls12-starttls-chacha-msmtp.keys").path,
                             capturesDir.appendingPathComponent("tls12-starttls-chacha-msmtp.pcap").path, out.path]
        try editcap.run()
        editcap.waitUntilExit()
        #expect(editcap.terminationStatus == 0, "editcap (Wireshark) is needed to make the capture")
        let r = try runCLI(["read", "--no-color", out.path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("queued as 52D67FE093"))
        #expect(r.stdout.contains("· decrypted"))
    }

    @Test func versionAndHelp() throws {
        let v = try runCLI(["--version"])
        #expect(v.status == 0)
        #expect(v.stdout.split(separator: ".").count == 3)
        let h = try runCLI(["read", "--help"])
        #expect(h.status == 0)
        #expect(h.stdout.contains("--format"))
        #expect(h.stdout.contains("standard input"))
        #expect(h.stdout.contains("--keylog"))
        let usage = try runCLI(["read", "--format", "xml", "x.pcap"])
        #expect(usage.status == 64)
    }

    @Test func colourOnlyWhenAsked() throws {
        // Output to a pipe is never coloured.
        let r = try runCLI(["read", "Captures/plain-delivery.pcap"], environment: [:])
        #expect(!r.stdout.contains("\u{1b}["))
    }
}

/// Live capture rereads a key log as the mail client writes it: a line is used once its newline
/// is there, and lines added later reach the store.
@Suite struct KeyLogFollowerTests {
    @Test func aGrowingKeyLogIsReadAsItGrows() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-keylog-\(getpid()).log")
        defer { try? FileManager.default.removeItem(at: url) }
        let random = String(repeating: "ab", count: 32), secret = String(repeating: "cd", count: 48)
        let line = "CLIENT_RANDOM \(random) \(secret)\n"
        try Data(("# written by a client\n" + line.prefix(40)).utf8).write(to: url)
        let keys = KeyLogStore()
        let follower = try #require(KeyLogFollower(path: url.path, into: keys) as KeyLogFollower?)
        #expect(keys.clientRandoms.isEmpty, "half a line is not a key yet")
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        try h.write(contentsOf: Data(line.dropFirst(40).utf8))
        try h.close()
        follower.readOn()
        #expect(keys.clientRandoms == [Array(repeating: 0xab, count: 32)])
        #expect(KeyLogFollower(path: "/nonexistent/keys.log", into: keys) == nil)
    }
}
