import Foundation
import Reporting
import Sessions
import Testing

/// The JSON session record's `timeline`: the session-level lines (greeting, EHLO, AUTH, STARTTLS,
/// QUIT…), so that with the transactions' timelines a program reads every line the text timeline
/// shows.
@Suite struct SessionTimelineJSONTests {
    @Test func sessionRecordCarriesTheSessionLevelLinesRedacted() throws {
        let path = capturesDir.appendingPathComponent("auth-login.pcap").path
        let run = try runCLI(["read", "--format", "json", path])
        #expect(run.status == 0)
        let session = try #require(run.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }.first { $0["type"] == .string("session") })
        guard case .array(let entries)? = session["timeline"] else { Issue.record("no timeline"); return }
        func pair(_ e: JSONValue) -> String {
            guard case .string(let k)? = e["kind"], case .string(let l)? = e["line"] else { return "?" }
            return k + " " + String(l.prefix(24))
        }
        #expect(entries.map(pair) == [
            "reply 220 mx.example.org ESMTP", "command EHLO ws01.example.net", "reply 250 mx.example.org · PIP",
            "command AUTH LOGIN", "reply 334 VXNlcm5hbWU6", "command ‹redacted›", "reply 334 UGFzc3dvcmQ6",
            "command ‹redacted›", "reply 535 5.7.8 Error: authent", "command QUIT", "reply 221 2.0.0 Bye",
        ])
        #expect(session["timeline_dropped"] == .int(0))
        // The credentials themselves appear only when asked for.
        let shown = try runCLI(["read", "--format", "json", "--show-credentials", path]).stdout
        let secrets = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(shown.split(separator: "\n").first { $0.contains("\"type\":\"session\"") }).utf8))
        guard case .array(let clear)? = secrets["timeline"], clear.count == entries.count else { Issue.record("timeline lengths differ"); return }
        for (i, e) in entries.enumerated() where pair(e) == "command ‹redacted›" {
            guard case .string(let secret)? = clear[i]["line"] else { continue }
            #expect(secret != "‹redacted›" && !run.stdout.contains(secret))
        }
    }

    /// Over every capture: the session record's lines are the timeline's lines outside any
    /// transaction, in order, and with the transactions' lines they are all of them.
    @Test func sessionAndTransactionTimelinesAreTheWholeTimeline() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: capturesDir.path).filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        var sessions = 0
        for file in files {
            let (c, _) = analyze([capturesDir.appendingPathComponent(file).path])
            for s in c.sessions {
                var w = JSONWriter()
                let txns = c.transactions(of: s)
                for t in txns { JSONRecords.transaction(t, session: s.client, server: s.server, timeline: s.timeline, captureName: file, into: &w) }
                JSONRecords.session(s, captureName: file, interface: nil, into: &w)
                let records = try w.bytes.split(separator: 0x0a).map { try JSONDecoder().decode(JSONValue.self, from: Data($0)) }
                var total = 0
                var sessionLines: [JSONValue] = []
                for r in records {
                    guard case .array(let list)? = r["timeline"] else { continue }
                    total += list.count
                    if r["type"] == .string("session") { sessionLines = list }
                }
                let outside = s.timeline.filter { $0.transaction == nil }
                #expect(sessionLines.map { $0["line"] } == outside.map { .string(String(decoding: $0.line, as: UTF8.self)) }, "\(file) session \(s.id)")
                #expect(total == s.timeline.count, "\(file) session \(s.id): \(total) of \(s.timeline.count) lines")
                sessions += 1
            }
        }
        #expect(sessions >= 60)
    }
}
