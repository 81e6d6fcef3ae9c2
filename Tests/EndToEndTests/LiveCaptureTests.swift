import Foundation
import Testing

/// Capturing needs root. Off CI a run without it skips the tests that capture, saying why; on CI
/// (which runs as root) they always run, and fail if root is missing.
let canCapture = getuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil
let needsRoot = "live capture needs root (CI runs as root): run `sudo swift test`"

/// `smtpscope live` end to end: two network namespaces joined by a veth pair, a real SMTP server
/// (aiosmtpd) and a real client (swaks, smtplib), the capture on the veth. The script
/// (Tests/live/live-e2e.sh, see Tests/live/README.md) checks that each transaction is printed
/// within 2 s of completing, that SIGINT exits 0 with open sessions flushed and drop counters
/// printed, that -w keeps readable evidence, and that memory does not grow with the number of
/// sessions. It needs root, as capturing does; CI runs as root.
@Suite(.serialized) struct LiveCaptureTests {
    @Test(.enabled(if: canCapture, Comment(rawValue: needsRoot)))
    func liveCaptureEndToEnd() throws {
        try runLiveScript("live-e2e.sh", timeout: 300)
    }

    /// `live --workers 2` (two handles in one PACKET_FANOUT group) finds the same transactions as
    /// one worker and as `read` of the same packets, and both workers get a share: sample captures
    /// merged and replayed with tcpreplay over a veth pair (Tests/live/live-workers.sh).
    @Test(.enabled(if: canCapture, Comment(rawValue: needsRoot)))
    func twoWorkersFindWhatOneFinds() throws {
        try runLiveScript("live-workers.sh", timeout: 200)
    }

    /// Runs a script of Tests/live as root, bounded (a broken network set-up must fail the test,
    /// not hang the suite), and expects it to pass.
    private func runLiveScript(_ name: String, timeout: Int) throws {
        let binary = try #require(smtpscopeBinary())
        try #require(getuid() == 0, Comment(rawValue: needsRoot))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = [String(timeout), "/bin/bash", repoRoot.appendingPathComponent("Tests/live/\(name)").path]
        var env = ProcessInfo.processInfo.environment
        env["SMTPSCOPE"] = binary.path
        p.environment = env
        p.currentDirectoryURL = repoRoot
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(name) failed:\n\(text.suffix(3000))")
        #expect(text.contains("PASS"))
    }
}

/// `smtpscope live` refusing to start: one line on stderr naming the problem and the exit status a
/// Unix tool gives (64 for a filter that does not compile, as tcpdump; 1 for the rest), never a
/// crash. Opening the capture needs root (CI runs as root); no traffic is needed.
@Suite struct LiveErrorTests {
    /// Bounded: a capture that starts after all must fail the test, not hang the suite.
    static let bounded = ["/usr/bin/timeout", "20"]

    static func expectOneLine(_ r: RunResult, status: Int32, _ text: String) {
        #expect(r.status == status, "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n", omittingEmptySubsequences: false).count == 2 && r.stderr.hasSuffix("\n"), "one line: \(r.stderr)")
        #expect(r.stderr.hasPrefix("smtpscope: "))
        #expect(r.stderr.contains(text), "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test(.enabled(if: canCapture, Comment(rawValue: needsRoot)))
    func badFilterIsAUsageError() throws {
        try #require(getuid() == 0, Comment(rawValue: needsRoot))
        let r = try runCLI(["live", "-i", "lo", "--filter", "tcp port"], prefix: Self.bounded)
        Self.expectOneLine(r, status: 64, #"capture filter "tcp port": "#)
    }

    @Test(.enabled(if: canCapture, Comment(rawValue: needsRoot)))
    func unwritableEvidenceFile() throws {
        try #require(getuid() == 0, Comment(rawValue: needsRoot))
        let r = try runCLI(["live", "-i", "lo", "-w", "/no/such/dir/x.pcap"], prefix: Self.bounded)
        Self.expectOneLine(r, status: 1, "/no/such/dir/x.pcap: cannot be written")
    }

    @Test(.enabled(if: canCapture, Comment(rawValue: needsRoot)))
    func missingInterface() throws {
        // Without root libpcap says "permission denied" before it looks for the interface.
        try #require(getuid() == 0, Comment(rawValue: needsRoot))
        let r = try runCLI(["live", "-i", "nosuchif0"], prefix: Self.bounded)
        Self.expectOneLine(r, status: 1, "nosuchif0: no such interface")
    }

    @Test(.enabled(if: canCapture, Comment(rawValue: needsRoot)))
    func missingPermission() throws {
        // Root without the capabilities capturing needs (setpriv drops them from the bounding set).
        try #require(getuid() == 0, "dropping capabilities needs root (CI runs as root): run `sudo swift test`")
        let r = try runCLI(["live", "-i", "lo"], prefix: Self.bounded + ["/usr/bin/setpriv", "--bounding-set=-net_raw,-net_admin", "--"])
        Self.expectOneLine(r, status: 1, "lo: permission denied")
    }
}
