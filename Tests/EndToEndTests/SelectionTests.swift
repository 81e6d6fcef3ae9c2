import Foundation
import Pipeline
import Testing
import Vocabulary

/// Choosing what is read (`--filter`, `--since`, `--until`) and what is shown (`--session`,
/// `--transaction`), checked against the tools whose behaviour they copy: tcpdump's offline filter
/// and editcap's time cut. Needs tcpdump and editcap (wireshark-common, with tshark).
@Suite struct SelectionTests {
    /// A temporary directory for the files tcpdump, editcap and gzip write.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-selection-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs a tool to the end; its exit status and standard error.
    @discardableResult
    static func tool(_ path: String, _ arguments: [String], environment: [String: String]? = nil, stdout: URL? = nil) throws -> (status: Int32, stderr: String) {
        #expect(FileManager.default.isExecutableFile(atPath: path), "\(path) is needed (apt-get install tcpdump tshark)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.currentDirectoryURL = repoRoot
        if let environment { p.environment = environment }
        if let stdout {
            _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: stdout)
        } else {
            p.standardOutput = FileHandle.nullDevice
        }
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    /// `tcpdump -r capture -w out expr`.
    static func tcpdump(_ capture: String, _ expr: String, into dir: URL) throws -> URL {
        let out = dir.appendingPathComponent(UUID().uuidString + ".pcap")
        let r = try tool("/usr/bin/tcpdump", ["-r", capture, "-w", out.path, expr])
        #expect(r.status == 0, "tcpdump: \(r.stderr)")
        return out
    }

    /// The JSON output with each capture file's name replaced by its place among the inputs, so
    /// that a file and its filtered copy compare equal.
    static func json(_ arguments: [String], files: [String], input: URL? = nil) throws -> String {
        let r = try runCLI(["read", "--format", "json"] + arguments + files, input: input)
        #expect(r.status == 0, "\(arguments) \(files): \(r.stderr)")
        var out = r.stdout
        for (i, f) in files.enumerated() { out = out.replacingOccurrences(of: "\"file\":\"\(f == "-" ? "(stdin)" : f)\"", with: "\"file\":\"#\(i)\"") }
        return out
    }

    // MARK: --filter

    static let filterCases: [(String, String)] = [
        ("Captures/auth-login.pcap", "port 44054"),
        // Pure ACKs left out: the same sessions, fewer packets.
        ("Captures/relay-connection-reuse.pcap", "tcp[tcpflags] & (tcp-push|tcp-syn|tcp-fin|tcp-rst) != 0"),
        // Packets of the message left out: gaps in the middle of a session.
        ("Captures/large-message-impaired.pcap", "less 1000 or tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0"),
        ("Captures/ipv6-delivery.pcap", "ip6 and tcp dst port 25"),
        ("Captures/cooked-any.pcap", "tcp port 25 and (tcp[tcpflags] & (tcp-push|tcp-syn) != 0)"),
    ]

    @Test(arguments: filterCases)
    func filterReadsWhatTcpdumpReads(_ capture: String, _ expr: String) throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let filtered = try Self.tcpdump(capture, expr, into: dir)
        let expected = try Self.json([], files: [filtered.path])
        #expect(expected.contains("\"type\":\"session\""))
        let all = try Self.json([], files: [capture])
        #expect(all != expected, "the filter leaves something out")
        #expect(try Self.json(["--filter", expr], files: [capture]) == expected)
        // Standard input goes through the same reading path.
        #expect(try Self.json(["--filter", expr], files: ["-"], input: repoRoot.appendingPathComponent(capture)) == expected)
    }

    @Test func filterOnACompressedCapture() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = "Captures/large-message-impaired.pcap", expr = "less 1000 or tcp[tcpflags] & tcp-syn != 0"
        let gz = dir.appendingPathComponent("x.pcap.gz")
        try Self.tool("/bin/gzip", ["-c", capture], stdout: gz)
        let expected = try Self.json([], files: [try Self.tcpdump(capture, expr, into: dir).path])
        #expect(try Self.json(["--filter", expr], files: [gz.path]) == expected)
    }

    /// Each file's filter is compiled for its own link type: Linux cooked capture and Ethernet.
    @Test func filterAcrossFilesOfDifferentLinkTypes() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = ["Captures/cooked-any.pcap", "Captures/plain-delivery.pcap"]
        let expr = "tcp[tcpflags] & (tcp-push|tcp-syn|tcp-fin) != 0"
        let expected = try Self.json([], files: try files.map { try Self.tcpdump($0, expr, into: dir).path })
        #expect(try Self.json(["--filter", expr], files: files) == expected)
    }

    /// A pcapng's interface numbers survive the filter: packets left out are still taken from the
    /// block walker's queue, so each kept one keeps its interface.
    @Test func filterKeepsEachPacketsInterface() throws {
        let capture = "Captures/middlebox-plain-relay-both-legs.pcapng"
        func sessions(_ args: [String]) throws -> [[String: Any]] {
            try Self.json(args, files: [capture]).split(separator: "\n").compactMap {
                var o = try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                guard o["type"] as? String == "session" else { return nil }
                o["session"] = nil
                return o
            }
        }
        let all = try sessions([])
        #expect(all.count == 2)
        for expr in ["host 192.0.2.10", "not host 192.0.2.10"] {
            let kept = try sessions(["--filter", expr])
            #expect(kept.count == 1)
            let same = all.filter { ($0["client"] as? String) == (kept.first?["client"] as? String) }
            #expect(same.count == 1)
            #expect(NSDictionary(dictionary: same[0]) == NSDictionary(dictionary: kept[0]), "\(expr): the session and its interface are as without the filter")
        }
        #expect(Set(all.compactMap { ($0["capture"] as? [String: Any])?["interface"] as? Int }) == [0, 1])
    }

    @Test func filterThatDoesNotCompileIsAUsageError() throws {
        let r = try runCLI(["read", "--filter", "tcp port", "Captures/plain-delivery.pcap"])
        #expect(r.status == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("smtpscope: filter \"tcp port\": "))
        #expect(r.stderr.contains("syntax error"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        // Valid syntax that the link type cannot take: raw IP has no Ethernet header.
        let raw = try runCLI(["read", "--filter", "ether host 02:00:00:00:00:01", packetFixtures + "raw.pcap"])
        #expect(raw.status == 64)
        #expect(raw.stderr.split(separator: "\n").count == 1)
    }

    // MARK: --since, --until

    /// editcap -A keeps packets at or after its time, -B those before; both read local time.
    static func editcap(_ capture: String, _ window: [String], into dir: URL) throws -> URL {
        let out = dir.appendingPathComponent(UUID().uuidString + ".pcap")
        let r = try tool("/usr/bin/editcap", window + ["-F", "pcap", capture, out.path], environment: ["TZ": "UTC"])
        #expect(r.status == 0, "editcap: \(r.stderr)")
        return out
    }

    @Test func timeWindowCutsPacketsAsEditcapDoes() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = "Captures/auth-login.pcap"
        // Session 1 runs 05:02:53.94–05:02:55.45, session 2 from 05:02:55.52 to 05:02:59.54.
        let since = try Self.json([], files: [try Self.editcap(capture, ["-A", "2026-11-30 05:02:55.5"], into: dir).path])
        #expect(try Self.json(["--since", "2026-11-30T05:02:55.5Z"], files: [capture]) == since)
        #expect(try Self.json(["--since", "1796014975.5"], files: [capture]) == since)
        #expect(try Self.json(["--since", "2026-11-30T06:02:55.500+01:00"], files: [capture]) == since)
        #expect(since.components(separatedBy: "\"type\":\"session\"").count == 2, "one session left")
        // A cut in the middle of session 2: it is reported as far as the window goes.
        let both = try Self.json([], files: [try Self.editcap(capture, ["-A", "2026-11-30 05:02:54", "-B", "2026-11-30 05:02:59.536"], into: dir).path])
        #expect(try Self.json(["--since", "2026-11-30 05:02:54", "--until", "2026-11-30T05:02:59.536Z"], files: [capture]) == both)
        #expect(both != (try Self.json([], files: [capture])))
    }

    @Test func badTimesAreUsageErrors() throws {
        for args in [["--since", "yesterday"], ["--until", "2026-13-01"], ["--since", "2026-11-30T06:00:00Z", "--until", "2026-11-30T05:00:00Z"]] {
            let r = try runCLI(["read"] + args + ["Captures/plain-delivery.pcap"])
            #expect(r.status == 64, "\(args)")
            #expect(r.stdout.isEmpty)
        }
    }

    @Test func timesOnTheCommandLine() {
        let t = Timestamp(seconds: 1_796_014_975, nanoseconds: 500_000_000)  // 2026-11-30T05:02:55.5Z
        for text in ["1796014975.5", "2026-11-30T05:02:55.5Z", "2026-11-30t05:02:55,500z", "2026-11-30 05:02:55.500000000",
                     "2026-11-30T06:02:55.5+01:00", "2026-11-30T04:32:55.5-0030"] {
            #expect(Timestamp(parsing: text) == t, "\(text)")
        }
        #expect(Timestamp(parsing: "2026-11-30") == Timestamp(seconds: 1_795_996_800, nanoseconds: 0))
        #expect(Timestamp(parsing: "2026-11-30T05:02Z") == Timestamp(seconds: 1_796_014_920, nanoseconds: 0))
        #expect(Timestamp(parsing: "0") == Timestamp.zero)
        #expect(Timestamp(parsing: "2024-02-29T00:00:00Z") != nil)
        for bad in ["", "yesterday", "2026-11-31", "2025-02-29", "2026-11-30T24:00:00Z", "2026-11-30T05:02:55+1", "2026-11-30T05:02:55Q",
                    "1.2.3", "2026-11-30T05:02:55.", "12e5", "-5"] {
            #expect(Timestamp(parsing: bad) == nil, "\(bad)")
        }
    }

    // MARK: --session, --transaction

    @Test func oneSession() throws {
        let r = try runCLI(["read", "--session", "2", "Captures/auth-login.pcap"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("session 2  192.0.2.10:54362"))
        #expect(!r.stdout.contains("session 1  "))
        #expect(r.stdout.contains("1 SMTP session · 1 transaction (1 queued) · 50 packets read\nshown: session 2 of 2 sessions read\n"))
        // The findings counted are the shown session's only.
        #expect(r.stdout.contains("warnings    1  cleartext-credentials  session 2"))
        let j = try runCLI(["read", "--format", "json", "--session", "1", "Captures/auth-login.pcap"])
        let records = try j.stdout.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        // The session's record, then its leg record (what correlate pairs it by).
        #expect(records.map { $0["type"] as? String } == ["session", "leg", "summary"])
        #expect(records[0]["session"] as? Int == 1 && records[1]["session"] as? Int == 1)
        #expect(records[2]["sessions"] as? Int == 1 && records[2]["transactions"] as? Int == 0)
        #expect(records[2]["selected"] as? String == "1" && records[2]["sessions_read"] as? Int == 2)
    }

    @Test func oneTransaction() throws {
        let capture = "Captures/relay-connection-reuse.pcap"
        let all = try runCLI(["read", "--format", "json", capture]).stdout.split(separator: "\n").map(String.init)
        let second = try #require(all.first { $0.contains("\"type\":\"transaction\",\"session\":1,\"index\":2,") })
        let j = try runCLI(["read", "--format", "json", "--transaction", "1.2", capture])
        let lines = j.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == second, "the transaction record is the whole run's")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(summary["transactions"] as? Int == 1 && summary["selected"] as? String == "1.2")
        let t = try runCLI(["read", "--transaction", "1.2", capture])
        #expect(t.stdout.hasPrefix("session 1  "))
        #expect(t.stdout.contains("· transaction 2\n"))
        #expect(t.stdout.contains("┌ transaction 2 "))
        #expect(!t.stdout.contains("┌ transaction 1 "))
        #expect(!t.stdout.contains("closed:"), "the transaction alone, not its session's end")
        #expect(t.stdout.contains("shown: transaction 1.2 of 1 session read\n"))
    }

    @Test func selectionThatNamesNothing() throws {
        let r = try runCLI(["read", "--session", "9", "Captures/auth-login.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr == "smtpscope: no session 9 in what was read\n")
        let t = try runCLI(["read", "--transaction", "1.1", "Captures/auth-login.pcap"])
        #expect(t.status == 1, "session 1 has no transaction")
        #expect(t.stderr.split(separator: "\n").count == 1)
        for args in [["--session", "1", "--transaction", "1.1"], ["--transaction", "1"], ["--transaction", "1.x"], ["--session", "0"]] {
            #expect(try runCLI(["read"] + args + ["Captures/auth-login.pcap"]).status == 64, "\(args)")
        }
    }
}
