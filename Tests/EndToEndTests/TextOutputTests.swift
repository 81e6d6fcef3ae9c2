import Foundation
import Reporting
import Testing

/// The text timeline: width, whole lines, the time column, extra headers, the summary's sessions
/// and the two-leg ladder's order.
@Suite struct TextOutputTests {
    @Test func linesAreWholeWhenStandardOutputIsNotATerminal() throws {
        let plain = try runCLI(["read", "Captures/plain-delivery.pcap"])
        #expect(plain.stdout.contains("250 mx.example.org · PIPELINING · SIZE 10240000 · VRFY · ETRN · STARTTLS · AUTH PLAIN LOGIN · ENHANCEDSTATUSCODES · 8BITMIME · DSN · SMTPUTF8 · CHUNKING"))
        #expect(!plain.stdout.contains("…"))
        let wide = try runCLI(["read", "--wide", "Captures/plain-delivery.pcap"])
        #expect(wide.stdout == plain.stdout)
    }

    @Test func aWidthIsKeptAndCutValuesDoNotMoveTheDelayColumn() throws {
        for width in [80, 100, 140] {
            let r = try runCLI(["read", "--width", String(width), "Captures/pipelining-rcpt-refused.pcap"])
            #expect(r.status == 0)
            let rows = r.stdout.split(separator: "\n").map(String.init).filter { $0.contains(" C ") || $0.contains(" C» ") }
            #expect(rows.count >= 8)
            for row in rows where !row.contains("▸") {
                // Fixed parts, the command and reply columns, then the delay: one column for all.
                #expect(Columns.width(row) <= width + 1, "\(row)")
            }
            let delayColumns = Set(rows.filter { !$0.contains("▸") }.compactMap { row -> Int? in
                guard let r = row.range(of: #"  [0-9.]+ (µs|ms|s)$"#, options: .regularExpression) else { return nil }
                return Columns.width(String(row[..<r.lowerBound]))
            })
            #expect(delayColumns.count == 1, "width \(width): \(rows)")
        }
        #expect(try runCLI(["read", "--width", "20", "Captures/plain-delivery.pcap"]).status == 64)
        #expect(try runCLI(["read", "--width", "100", "--wide", "Captures/plain-delivery.pcap"]).status == 64)
    }

    @Test func onATerminalTheWidthComesFromTheTerminalElseColumns() throws {
        // script(1) gives the command a terminal of no size: the width comes from $COLUMNS.
        let binary = try #require(smtpscopeBinary())
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", "/usr/bin/env COLUMNS=90 NO_COLOR=1 \(binary.path) read Captures/plain-delivery.pcap", "/dev/null"]
        p.currentDirectoryURL = repoRoot
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/null"))
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let lines = stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").filter { $0.contains(" C ") }
        #expect(!lines.isEmpty)
        for l in lines { #expect(Columns.width(String(l)) <= 90, "\(l)") }
        #expect(stdout.contains("…"))
    }

    @Test func theTimeColumnIsSessionRelativeUTCOrLocal() throws {
        let capture = "Captures/middlebox-store-and-forward-both-legs.pcapng"
        func firstLine(after header: String, _ args: [String], tz: String = "UTC") throws -> (String, String) {
            let r = try runCLI(["read"] + args + [capture], environment: ["NO_COLOR": "1", "TZ": tz])
            let lines = r.stdout.split(separator: "\n").map(String.init)
            let h = try #require(lines.firstIndex { $0.hasPrefix(header) })
            return (lines[h], lines[h + 1])
        }
        // Default: seconds since the session began.
        #expect(try firstLine(after: "session 2", []).1.hasPrefix("    +0.000    S  220"))
        // Relative: seconds since the capture's first packet (session 2 began after session 1).
        #expect(try firstLine(after: "session 2", ["--time", "relative"]).1.hasPrefix("    0.001     S  220"))
        // UTC and local time of day; local follows TZ and names the zone in the session line.
        #expect(try firstLine(after: "session 2", ["--time", "utc"]).1.hasPrefix("    09:00:45.654   S  220"))
        let tokyo = try firstLine(after: "session 2", ["--time", "local"], tz: "Asia/Tokyo")
        #expect(tokyo.0.contains("2026-11-30 18:00:45.653 JST"))
        #expect(tokyo.1.hasPrefix("    18:00:45.654   S  220"))
        let fixedZone = try firstLine(after: "session 2", ["--time", "local"], tz: "XYZ-2")
        #expect(fixedZone.0.contains("11:00:45.653 XYZ"))
        // The ladder follows too.
        let ladder = try runCLI(["read", "--time", "utc", capture])
        #expect(ladder.stdout.contains("  09:00:45.654  220 mx.example.org ESMTP Postfix"))
    }

    @Test func extraHeadersShowUnderTheMessage() throws {
        let r = try runCLI(["read", "--header", "MIME-Version", "--header", "X-Not-There", "Captures/smtplib-delivery.pcap"])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let m = try #require(lines.firstIndex { $0.contains("▸") && $0.contains("Sent with smtplib") })
        #expect(lines[m + 1].hasSuffix("MIME-Version: 1.0"))
        #expect(!r.stdout.contains("X-Not-There"))
        // Without --header, no header lines.
        let plain = try runCLI(["read", "Captures/smtplib-delivery.pcap"])
        #expect(!plain.stdout.contains("MIME-Version"))
    }

    @Test func theSummaryNamesEverySessionOfAFinding() throws {
        let r = try runCLI(["read", "Captures/middlebox-store-and-forward-both-legs.pcapng"])
        let row = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("info") && $0.contains("starttls-not-used") })
        #expect(row.contains("sessions 1, 2"))
    }

    @Test func countsAreWrittenInTheSingularOrThePlural() throws {
        let golden = repoRoot.appendingPathComponent("Tests/Golden")
        for name in try FileManager.default.contentsOfDirectory(atPath: golden.path) where name.hasSuffix(".txt") {
            let text = try String(contentsOf: golden.appendingPathComponent(name), encoding: .utf8)
            #expect(!text.contains("(s)"), "\(name)")
            #expect(!text.contains(" 1 recipients"), "\(name)")
        }
    }

    @Test func liveTakesTheSameTextOptions() throws {
        let help = try runCLI(["live", "--help"])
        for option in ["--width", "--wide", "--time", "--header"] { #expect(help.stdout.contains(option), "\(option)") }
        let bad = try runCLI(["live", "-i", "lo", "--time", "yesterday"])
        #expect(bad.status == 64)
    }
}
