import Foundation
import Pipeline
import Testing

/// The progress line: when it is drawn (a decision, tested as a unit), what it says (its text, as
/// a unit), and that nothing reaches stderr when it is not a terminal (end to end). Its timing is
/// not tested: no timed tests.
@Suite struct ProgressLineTests {
    @Test func progressLineOnlyOnATerminalForLargeInput() {
        #expect(!ProgressLine.wanted(stderrIsTerminal: false, totalBytes: 10 << 30))
        #expect(!ProgressLine.wanted(stderrIsTerminal: false, totalBytes: nil))
        #expect(!ProgressLine.wanted(stderrIsTerminal: true, totalBytes: 2 << 20))
        #expect(ProgressLine.wanted(stderrIsTerminal: true, totalBytes: ProgressLine.minimumBytes))
        #expect(ProgressLine.wanted(stderrIsTerminal: true, totalBytes: nil), "standard input: size unknown")
    }

    @Test func progressLineText() {
        #expect(ProgressLine.text(bytes: 412_000_000, total: 1_030_000_000, packets: 3_210_000, sessions: 1204, seconds: 4)
                == "reading 412 MB of 1.0 GB (40%) · 3 210 000 packets · 1 204 SMTP sessions · 103 MB/s")
        #expect(ProgressLine.text(bytes: 999, total: nil, packets: 1, sessions: 1, seconds: 0) == "reading 999 B · 1 packet · 1 SMTP session")
        #expect(ProgressLine.text(bytes: 5_500, total: 5_500, packets: 0, sessions: 0, seconds: 1) == "reading 5.5 kB of 5.5 kB (100%) · 0 packets · 0 SMTP sessions · 5.5 kB/s")
    }

    /// Standard input has no size, so only the terminal test keeps the line away: with stderr a
    /// pipe, nothing is written there.
    @Test func noProgressLineWhenStderrIsNotATerminal() throws {
        let r = try runCLI(["read", "-"], input: capturesDir.appendingPathComponent("large-message-impaired.pcap"))
        #expect(r.status == 0)
        #expect(r.stdout.contains("SMTP session"))
        #expect(r.stderr.isEmpty)
    }
}
