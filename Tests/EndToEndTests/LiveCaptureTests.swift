import Foundation
import Testing

/// `smtpscope live` end to end: two network namespaces joined by a veth pair, a real SMTP server
/// (aiosmtpd) and a real client (swaks, smtplib), the capture on the veth. The script
/// (Tests/live/live-e2e.sh, see Tests/live/README.md) checks that each transaction is printed
/// within 2 s of completing, that SIGINT exits 0 with open sessions flushed and drop counters
/// printed, that -w keeps readable evidence, and that memory does not grow with the number of
/// sessions. It needs root, as capturing does; CI runs as root.
@Suite(.serialized) struct LiveCaptureTests {
    @Test func liveCaptureEndToEnd() throws {
        let binary = try #require(smtpscopeBinary())
        #expect(getuid() == 0, "live capture needs root (CI runs as root): run `sudo swift test`")
        let p = Process()
        // Bounded: a broken network set-up must fail the test, not hang the suite.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["300", "/bin/bash", repoRoot.appendingPathComponent("Tests/live/live-e2e.sh").path]
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
        #expect(p.terminationStatus == 0, "live-e2e.sh failed:\n\(text.suffix(3000))")
        #expect(text.contains("PASS"))
    }
}
