import Foundation
import Testing

/// Every way a capture can arrive reads the same: a file, standard input, gzip-compressed (told by
/// its magic bytes, not its name), compressed on standard input.
@Suite struct CaptureInputTests {
    /// Two legs of a proxy on two pcapng interfaces with identical addresses: only the interface
    /// index tells them apart, so this capture fails unless the interface table is read.
    static let twoInterfaces = "middlebox-plain-relay-both-legs.pcapng"

    /// The output with the capture's name (the path, or "(stdin)") taken out: the only part that
    /// may differ between the ways of reading one capture.
    static func withoutName(_ s: String) -> String {
        s.replacingOccurrences(of: #""capture":\{"file":"[^"]*""#, with: #""capture":{"file":"""#, options: .regularExpression)
            .replacingOccurrences(of: #""(client|server)_capture":"[^"]*""#, with: #""$1_capture":"""#, options: .regularExpression)
    }

    static func gzip(_ source: URL, to destination: URL) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-c", source.path]
        #expect(FileManager.default.createFile(atPath: destination.path, contents: nil))
        p.standardOutput = try FileHandle(forWritingTo: destination)
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-inputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func pcapngOnStandardInputKeepsItsInterfaces() throws {
        let capture = capturesDir.appendingPathComponent(Self.twoInterfaces)
        let file = try runCLI(["read", "--format", "json", capture.path])
        let stdin = try runCLI(["read", "--format", "json", "-"], input: capture)
        #expect(file.status == 0 && stdin.status == 0)
        #expect(stdin.stderr.isEmpty)
        #expect(file.stdout.contains(#"{"type":"intercept""#), "the file's intercept is found")
        #expect(stdin.stdout.contains(#""capture":{"file":"(stdin)""#))
        #expect(Self.withoutName(stdin.stdout) == Self.withoutName(file.stdout))
    }

    @Test(arguments: ["plain-delivery.pcap", twoInterfaces, "cooked-any.pcap"])
    func gzipReadsAsTheUncompressedFile(_ name: String) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = capturesDir.appendingPathComponent(name)
        let compressed = dir.appendingPathComponent(name + ".gz")
        try Self.gzip(capture, to: compressed)
        // Gzip is told by its magic bytes: a compressed file under the plain name reads too.
        let misnamed = dir.appendingPathComponent(name)
        try FileManager.default.copyItem(at: compressed, to: misnamed)

        let plain = try runCLI(["read", "--format", "json", capture.path])
        #expect(plain.status == 0)
        #expect(plain.stdout.contains(#""type":"session""#))
        for run in [try runCLI(["read", "--format", "json", compressed.path]),
                    try runCLI(["read", "--format", "json", misnamed.path]),
                    try runCLI(["read", "--format", "json", "-"], input: compressed)] {
            #expect(run.status == 0)
            #expect(run.stderr.isEmpty)
            #expect(Self.withoutName(run.stdout) == Self.withoutName(plain.stdout))
        }
    }

    @Test func concatenatedGzipMembersReadAsOneStream() throws {
        // `cat a.gz b.gz` is one gzip file; its contents are the two parts one after the other.
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = capturesDir.appendingPathComponent("plain-delivery.pcap")
        let bytes = try Data(contentsOf: capture)
        let half = 24 + (bytes.count - 24) / 2
        // Cut at a packet boundary: walk the classic pcap records.
        var cut = 24
        while cut < half, cut + 16 <= bytes.count {
            let caplen = Int(bytes[cut + 8]) | Int(bytes[cut + 9]) << 8 | Int(bytes[cut + 10]) << 16 | Int(bytes[cut + 11]) << 24
            cut += 16 + caplen
        }
        let first = dir.appendingPathComponent("first"), second = dir.appendingPathComponent("second")
        try bytes.prefix(cut).write(to: first)
        try bytes.dropFirst(cut).write(to: second)
        try Self.gzip(first, to: dir.appendingPathComponent("first.gz"))
        try Self.gzip(second, to: dir.appendingPathComponent("second.gz"))
        let joined = dir.appendingPathComponent("joined.pcap.gz")
        try (Data(contentsOf: dir.appendingPathComponent("first.gz")) + Data(contentsOf: dir.appendingPathComponent("second.gz"))).write(to: joined)
        let plain = try runCLI(["read", "--format", "json", capture.path])
        let run = try runCLI(["read", "--format", "json", joined.path])
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty)
        #expect(Self.withoutName(run.stdout) == Self.withoutName(plain.stdout))
    }

    @Test func truncatedGzipReportsWhatCameBeforeTheCut() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = capturesDir.appendingPathComponent("large-message-impaired.pcap")
        let compressed = dir.appendingPathComponent("whole.pcap.gz")
        try Self.gzip(capture, to: compressed)
        let gz = try Data(contentsOf: compressed)
        let truncated = dir.appendingPathComponent("cut.pcap.gz")
        try gz.prefix(gz.count * 3 / 4).write(to: truncated)

        for (run, name) in [(try runCLI(["read", "--format", "json", truncated.path]), truncated.path),
                            (try runCLI(["read", "--format", "json", "-"], input: truncated), "-")] {
            #expect(run.status == 1)
            #expect(run.stderr.split(separator: "\n").count == 1)
            #expect(run.stderr.hasPrefix("smtpscope: \(name): file is cut short"))
            #expect(run.stdout.contains(#""type":"session""#), "the session begun before the cut is reported")
            let summary = try #require(run.stdout.split(separator: "\n").last)
            let packets = try #require((try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any])?["packets"] as? Int)
            #expect(packets > 0)
        }
    }

    @Test func damagedGzipIsOneLineNotACrash() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = capturesDir.appendingPathComponent("large-message-impaired.pcap")
        let compressed = dir.appendingPathComponent("whole.pcap.gz")
        try Self.gzip(capture, to: compressed)
        var gz = try Data(contentsOf: compressed)
        gz[gz.count / 2] ^= 0xff
        let damaged = dir.appendingPathComponent("damaged.pcap.gz")
        try gz.write(to: damaged)
        let run = try runCLI(["read", "--format", "json", damaged.path])
        #expect(run.status == 1)
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.hasPrefix("smtpscope: \(damaged.path): damaged gzip data"))
        #expect(run.stdout.contains(#""type":"summary""#))
    }

    @Test func compressedNonCaptureSaysSo() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let compressed = dir.appendingPathComponent("notes.gz")
        try Self.gzip(repoRoot.appendingPathComponent(packetFixtures + "not-a-capture.txt"), to: compressed)
        let run = try runCLI(["read", compressed.path])
        #expect(run.status == 1)
        #expect(run.stderr == "smtpscope: \(compressed.path): not a capture file once uncompressed (neither pcap nor pcapng)\n")
    }

    @Test func directoryIsOneLine() throws {
        let r = try runCLI(["read", "Captures"])
        #expect(r.status == 1)
        #expect(r.stderr == "smtpscope: Captures: is a directory, not a capture file\n")
    }
}
