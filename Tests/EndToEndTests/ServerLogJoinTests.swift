import Foundation
import Testing

/// `read --maillog`: the mail server's log joined with captures the lab made with real software,
/// beside the server's log of the same run (Captures/NAME.maillog).
@Suite struct ServerLogJoinTests {
    /// JSON records of one run, by type.
    static func records(_ args: [String], input: URL? = nil) throws -> (sessions: [[String: Any]], transactions: [[String: Any]], summary: [String: Any]) {
        let r = try runCLI(["read", "--format", "json"] + args, input: input)
        #expect(r.status == 0, "\(r.stderr)")
        var sessions: [[String: Any]] = [], transactions: [[String: Any]] = [], summary: [String: Any] = [:]
        for line in r.stdout.split(separator: "\n") {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            switch o["type"] as? String {
            case "session": sessions.append(o)
            case "transaction": transactions.append(o)
            case "summary": summary = o
            default: break
            }
        }
        return (sessions, transactions, summary)
    }

    static func findings(_ record: [String: Any]) -> [String: String] {
        Dictionary(((record["findings"] as? [[String: Any]]) ?? []).map { ($0["id"] as? String ?? "", $0["message"] as? String ?? "") }, uniquingKeysWith: { a, _ in a })
    }

    static func lines(_ record: [String: Any]) -> [String] {
        ((record["server_log"] as? [[String: Any]]) ?? []).compactMap { $0["line"] as? String }
    }

    /// The seed case: Mutt through sSMTP and a store-and-forward scanner to Postfix with smtpd -v,
    /// captured on the workstation only. The log names the RSETs and NOOPs the client never sent.
    @Test func seedCaseNamesTheScannersCommands() throws {
        let r = try Self.records(["Captures/mutt-ssmtp-scanner-workstation.pcap", "--maillog", "Captures/mutt-ssmtp-scanner.maillog"])
        let s = try #require(r.sessions.first)
        let f = Self.findings(s)
        let notSent = try #require(f["log-commands-not-sent"])
        #expect(notSent.contains("2 RSET") && notSent.contains("2 NOOP") && notSent.contains("1 more MAIL"))
        #expect(notSent.contains("the lines it logged reading them"))
        #expect(f["log-reply-not-from-server"] != nil)
        let match = try #require(s["server_log_match"] as? [String: Any])
        #expect(match["by"] as? String == "address-time")
        #expect(abs(match["clock_offset"] as? Double ?? 99) < 1.5)
        let lines = Self.lines(s)
        #expect(lines.filter { $0.hasSuffix(": RSET") }.count == 2 && lines.filter { $0.hasSuffix(": NOOP") }.count == 2)
        #expect(!lines.contains { $0.contains("input attribute") }, "smtpd -v tracing is not joined")
        let t = try #require(r.transactions.first)
        #expect(((t["delivery"] as? [[String: Any]])?.first?["status"] as? String) == "sent")
        #expect((t["server_log_match"] as? [String: Any])?["by"] as? String == "message-id")
        let text = try runCLI(["read", "Captures/mutt-ssmtp-scanner-workstation.pcap", "--maillog", "Captures/mutt-ssmtp-scanner.maillog"]).stdout
        #expect(text.contains("L  < unknown[192.0.2.10]:32859: RSET"))
        #expect(text.contains("server log: queue id 3ECEF10C947 · bob@example.org sent"))
    }

    /// The lab's store-and-forward scanner, read with the client leg only and the server's log.
    @Test func storeAndForwardClientLegAndServerLeg() throws {
        let client = try Self.records(["Captures/middlebox-store-and-forward-client-leg.pcap", "--maillog", "Captures/middlebox-store-and-forward.maillog"])
        let f = Self.findings(try #require(client.sessions.first))
        let notSent = try #require(f["log-commands-not-sent"])
        #expect(notSent.contains("rset=2 noop=2") && notSent.contains("port 33083"))
        #expect(f["log-reply-not-from-server"]?.contains("C46BC11A06A") == true)
        // The server leg is what the server saw: nothing to say.
        let server = try Self.records(["Captures/middlebox-store-and-forward-server-leg.pcap", "--maillog", "Captures/middlebox-store-and-forward.maillog"])
        let s = try #require(server.sessions.first)
        #expect(Self.findings(s).keys.filter { $0.hasPrefix("log-") }.isEmpty)
        #expect((s["server_log_match"] as? [String: Any])?["by"] as? String == "queue-id")
        #expect(server.transactions.count == 2)
        #expect((server.transactions[0]["server_log_match"] as? NSNull) != nil, "the reset transaction has no message")
        #expect((server.transactions[1]["server_log_match"] as? [String: Any])?["queue_id"] as? String == "C46BC11A06A")
    }

    @Test func divergentOutcomeFromTheClientLegAlone() throws {
        let r = try Self.records(["Captures/middlebox-divergent-client-leg.pcap", "--maillog", "Captures/middlebox-divergent.maillog"])
        let t = try #require(r.transactions.first)
        let differs = try #require(Self.findings(t)["log-outcome-differs"])
        #expect(differs.contains("5.7.1 Message content rejected by policy") && differs.contains("C4B44108719"))
        #expect((t["server_log_match"] as? [String: Any])?["rejected"] as? String == "5.7.1 Message content rejected by policy")
    }

    @Test func starttlsAnsweredByTheScanner() throws {
        let r = try Self.records(["Captures/middlebox-starttls-answered-client-leg.pcap", "--maillog", "Captures/middlebox-starttls-answered.maillog"])
        let f = Self.findings(try #require(r.sessions.first))
        #expect(f["log-commands-not-received"]?.contains("1 STARTTLS") == true)
        #expect(f["log-commands-not-sent"] == nil)
    }

    /// A log whose clock is an hour ahead, written with ISO times (as journald's short-iso): the
    /// queue id still matches, the offset is measured, and the lines land on the capture's clock.
    @Test func clockOffsetMeasuredAndTakenAway() throws {
        let original = try String(contentsOf: capturesDir.appendingPathComponent("plain-delivery.maillog"), encoding: .utf8)
        let direct = try Self.records(["Captures/plain-delivery.pcap", "--maillog", "Captures/plain-delivery.maillog"])
        let d = try #require(direct.sessions.first)
        #expect(Self.findings(d).keys.filter { $0.hasPrefix("log-") }.isEmpty)
        let base = try #require((d["server_log_match"] as? [String: Any])?["clock_offset"] as? Double)
        #expect(abs(base) < 1)
        // "Nov 30 09:11:50 mx …" → "2026-11-30T10:11:50+00:00 mx …"
        let shifted = original.split(separator: "\n").map { line -> String in
            let parts = line.split(separator: " ", maxSplits: 3)
            let hms = parts[2].split(separator: ":").compactMap { Int($0) }
            let hour = String(format: "%02d", hms[0] + 1)
            return "2026-11-30T\(hour):\(String(format: "%02d:%02d", hms[1], hms[2]))+00:00 " + parts[3]
        }.joined(separator: "\n") + "\n"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-shifted-\(getpid()).maillog")
        try shifted.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try Self.records(["Captures/plain-delivery.pcap", "--maillog", url.path])
        let s = try #require(r.sessions.first)
        let match = try #require(s["server_log_match"] as? [String: Any])
        #expect(match["by"] as? String == "queue-id")
        let offset = try #require(match["clock_offset"] as? Double)
        #expect(abs(offset - 3600 - base) < 0.01)
        #expect((r.summary["server_log"] as? [String: Any])?["year_from_capture"] as? Bool == false)
        let start = try #require(s["start"] as? String)
        let first = try #require((s["server_log"] as? [[String: Any]])?.first?["time"] as? String)
        #expect(first.prefix(19) == start.prefix(19), "the connect line lands at the session's start on the capture's clock")
    }

    @Test func eximMainLog() throws {
        let r = try Self.records(["Captures/exim-delivery.pcap", "--maillog", "Captures/exim-delivery.maillog"])
        #expect(r.sessions.count == 2)
        for s in r.sessions {
            #expect((s["server_log_match"] as? [String: Any])?["format"] as? String == "exim")
            #expect((s["server_log_match"] as? [String: Any])?["by"] as? String == "queue-id")
        }
        let second = try #require(r.transactions.last)
        #expect(Self.lines(second).contains { $0.contains("rejected RCPT <nobody@example.org>") })
        #expect(((second["delivery"] as? [[String: Any]])?.first?["to"] as? String) == "bob@example.org")
        let summary = try #require(r.summary["server_log"] as? [String: Any])
        #expect(summary["connections_matched"] as? Int == 2 && summary["skipped"] as? Int == 0)
    }

    /// The fate after queueing: a bounce in the log is a finding (the lab's discard transport never
    /// bounces, so the status word of the real log is changed here).
    @Test func bounceAfterQueueing() throws {
        let original = try String(contentsOf: capturesDir.appendingPathComponent("plain-delivery.maillog"), encoding: .utf8)
        let bounced = original.replacingOccurrences(of: "dsn=2.0.0, status=sent (example.org)", with: "dsn=5.1.1, status=bounced (host mail.example.org said: 550 5.1.1 no such user)")
        #expect(bounced != original)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-bounced-\(getpid()).maillog")
        try bounced.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try Self.records(["Captures/plain-delivery.pcap", "--maillog", url.path])
        let t = try #require(r.transactions.first)
        #expect(Self.findings(t)["log-delivery-failed"]?.contains("bounced: host mail.example.org said") == true)
    }

    /// Exchange's receive protocol log names every command it read: one RSET more than the client
    /// sent is found, with the client's port (the log's rows are built here around the capture's
    /// session, in the format Exchange writes, with its clock 30 minutes ahead).
    @Test func exchangeProtocolLogCommands() throws {
        let plain = try Self.records(["Captures/plain-delivery.pcap"])
        let s = try #require(plain.sessions.first)
        let client = try #require(s["client"] as? String)
        let start = try #require(s["start"] as? String)
        // "2026-11-30T05:02:38.624123Z" -> 30 minutes later, milliseconds.
        let hour = try #require(Int(start.dropFirst(11).prefix(2)))
        let minute = try #require(Int(start.dropFirst(14).prefix(2)))
        let total = hour * 60 + minute + 30
        let base = start.prefix(11) + String(format: "%02d:%02d", total / 60, total % 60) + start.dropFirst(16).prefix(7)
        var rows = ["#Software: Microsoft Exchange Server", "#Version: 15.2.0.0", "#Log-type: SMTP Receive Protocol Log",
                    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"]
        let dialogue: [(String, String)] = [("+", ""), (">", "220 mx.example.org Microsoft ESMTP MAIL Service ready"), ("<", "EHLO ws01.example.net"),
                                            (">", "250 mx.example.org Hello"), ("<", "MAIL FROM:<alice@example.net>"), (">", "250 2.1.0 Sender OK"),
                                            ("<", "RCPT TO:<bob@example.org>"), (">", "250 2.1.5 Recipient OK"), ("<", "RSET"), (">", "250 2.0.0 Resetting"),
                                            ("<", "DATA"), (">", "354 Start mail input; end with <CRLF>.<CRLF>"),
                                            (">", "\"250 2.6.0 <20260302091407.1001@ws01.example.net> [InternalId=1236950581251, Hostname=EX01] Queued mail for delivery\""),
                                            ("<", "QUIT"), (">", "221 2.0.0 Closing connection"), ("-", "")]
        for (k, (event, data)) in dialogue.enumerated() {
            rows.append("\(base)\(String(format: "%03d", k))Z,EX01\\Default EX01,08DD0A1B2C3D4E5F,\(k),198.51.100.25:25,\(client),\(event),\(data),")
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-exchange-\(getpid()).log")
        try (rows.joined(separator: "\r\n") + "\r\n").write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try Self.records(["Captures/plain-delivery.pcap", "--maillog", url.path])
        let session = try #require(r.sessions.first)
        let match = try #require(session["server_log_match"] as? [String: Any])
        #expect(match["by"] as? String == "address-port" && match["format"] as? String == "exchange")
        #expect(abs((match["clock_offset"] as? Double ?? 0) - 1800) < 0.01)
        #expect(Self.findings(session)["log-commands-not-sent"]?.contains("1 RSET") == true)
        #expect(Self.findings(session)["log-commands-not-received"] == nil)
        #expect(Self.lines(session).count == dialogue.count)
    }

    /// Gzip and standard input; garbage is counted, never fatal.
    @Test func gzipStdinAndGarbage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-maillog-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gz = dir.appendingPathComponent("maillog.gz")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -c '\(capturesDir.path)/plain-delivery.maillog' > '\(gz.path)'"]
        try p.run()
        p.waitUntilExit()
        let zipped = try Self.records(["Captures/plain-delivery.pcap", "--maillog", gz.path])
        #expect((zipped.sessions.first?["server_log_match"] as? [String: Any])?["by"] as? String == "queue-id")
        let piped = try Self.records(["Captures/plain-delivery.pcap", "--maillog", "-"], input: capturesDir.appendingPathComponent("plain-delivery.maillog"))
        #expect(Self.lines(try #require(piped.sessions.first)).count == 9)
        var garbage = [UInt8]()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { garbage.append(UInt8.random(in: 0...255, using: &rng)) }
        let junk = dir.appendingPathComponent("junk.log")
        try Data(garbage).write(to: junk)
        let r = try Self.records(["Captures/plain-delivery.pcap", "--maillog", junk.path, "--maillog", "Captures/plain-delivery.maillog"])
        let summary = try #require(r.summary["server_log"] as? [String: Any])
        #expect((summary["skipped"] as? Int ?? 0) > 0 && summary["connections_matched"] as? Int == 1)
        let both = try runCLI(["read", "-", "--maillog", "-"])
        #expect(both.status == 64)
    }
}
