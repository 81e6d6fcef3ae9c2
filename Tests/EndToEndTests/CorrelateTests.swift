import Correlation
import Foundation
import Pipeline
import Reporting
import Sessions
import Testing
import Vocabulary

/// The lab's scenarios captured at two points: (capture nearer the client, capture nearer the server).
let twoCaptureScenarios: [(String, String)] =
    middleboxModes.map { ("middlebox-\($0)-client-leg.pcap", "middlebox-\($0)-server-leg.pcap") } + [
        ("double-capture-workstation.pcap", "double-capture-mailserver.pcap"),
        ("double-capture-workstation-dropped.pcap", "double-capture-mailserver.pcap"),
        ("nat-double-capture-workstation.pcap", "nat-double-capture-mailserver.pcap"),
    ]

/// A scratch directory of its own for one test.
func scratchDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-correlate-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// `editcap -t seconds`: the capture with every timestamp moved, as a capture point whose clock is off.
func shifted(_ capture: String, by seconds: Double, into dir: URL, name: String) throws -> String {
    let out = dir.appendingPathComponent(name).path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["editcap", "-t", String(seconds), capture, out]
    try p.run()
    p.waitUntilExit()
    try #require(p.terminationStatus == 0, "editcap -t \(seconds) \(capture) failed (editcap is in the wireshark-common package)")
    return out
}

/// JSON records of one run, parsed.
func records(_ output: String) throws -> [[String: Any]] {
    try output.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line.prefix(80))")
    }
}

/// Intercept and same-connection records in terms that do not depend on how sessions were
/// numbered: each leg named by its capture and endpoints (from the session records of the same
/// runs), session numbers in sentences blanked, the combined session (which needs the captures)
/// left out. Sorted, as text.
func pairingRecords(_ recs: [[String: Any]], sessions: [[String: Any]]) throws -> [String] {
    var legName: [String: String] = [:]
    for s in sessions where s["type"] as? String == "session" {
        let capture = try #require((s["capture"] as? [String: Any])?["file"] as? String)
        legName["\(capture)#\(s["session"] ?? "")"] = "\(capture) \(s["client"] ?? "") → \(s["server"] ?? "")"
    }
    func name(_ capture: Any?, _ session: Any?) throws -> String {
        try #require(legName["\(capture ?? "")#\(session ?? "")"], "no session record for \(capture ?? "") session \(session ?? "")")
    }
    let numbers = try NSRegularExpression(pattern: #"sessions? \d+( [⇄≡] \d+(, \d+)*)?"#)
    var out: [String] = []
    for var r in recs {
        switch r["type"] as? String {
        case "intercept":
            r["client_leg"] = try name(r["client_capture"], r["client_leg"])
            r["server_leg"] = try (r["server_leg"] as? [Any] ?? []).map { try name(r["server_capture"], $0) }
        case "same_connection":
            for side in ["near_client", "near_server"] {
                var leg = try #require(r[side] as? [String: Any])
                leg["session"] = try name(leg["capture"], leg["session"])
                r[side] = leg
            }
            r["combined_session"] = nil
        default: continue
        }
        let data = try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys, .withoutEscapingSlashes])
        let text = String(decoding: data, as: UTF8.self)
        out.append(numbers.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "session #"))
    }
    return out.sorted()
}

/// FNV-1a of a partition key: a stable hash, as a log topic's partitioner uses.
func partition(_ key: String, of n: Int) -> Int {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return Int(h % UInt64(n))
}

/// `correlate` over the JSON of capture points read one at a time gives what `read` of the
/// captures together gives.
@Suite struct CorrelateTests {
    /// Reads each capture alone to JSON in `dir`; returns the files and their records.
    func readApart(_ captures: [String], into dir: URL) throws -> ([String], [[String: Any]]) {
        var files: [String] = [], all: [[String: Any]] = []
        for (k, c) in captures.enumerated() {
            let r = try runCLI(["read", "--format", "json", c])
            #expect(r.status == 0, "\(c): \(r.stderr)")
            let file = dir.appendingPathComponent("point\(k).jsonl").path
            try r.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
            all += try records(r.stdout)
        }
        return (files, all)
    }

    /// Every lab scenario captured at two points, and again with the server-side capture's clock
    /// 7.25 s ahead (its file's times shifted with editcap): the same intercepts, same-connection
    /// records, actions, verdicts, evidence, clock offsets and findings as `read` of both.
    @Test(arguments: twoCaptureScenarios, [0.0, 7.25])
    func correlateMatchesReadingTogether(scenario: (String, String), shift: Double) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = capturesDir.appendingPathComponent(scenario.0).path
        var server = capturesDir.appendingPathComponent(scenario.1).path
        if shift != 0 { server = try shifted(server, by: shift, into: dir, name: scenario.1) }
        let together = try runCLI(["read", "--format", "json", client, server])
        let togetherRecords = try records(together.stdout)
        let (files, apart) = try readApart([client, server], into: dir)
        let correlated = try runCLI(["correlate", "--format", "json"] + files)
        #expect(correlated.status == 0, "\(correlated.stderr)")
        let correlatedRecords = try records(correlated.stdout)
        let expected = try pairingRecords(togetherRecords, sessions: togetherRecords)
        #expect(expected.count == 1, "\(scenario): one pair when read together")
        #expect(try pairingRecords(correlatedRecords, sessions: apart) == expected, "\(scenario) shifted \(shift) s")

        // The server-side capture's clock against the client side's: the pair's offset, the shift in it.
        let pair = try #require(togetherRecords.first { ["intercept", "same_connection"].contains($0["type"] as? String) })
        var offset = try #require((pair["clock_offset"] as? [String: Any])?["seconds"] as? Double)
        if pair["type"] as? String == "same_connection",
           ((pair["near_client"] as? [String: Any])?["capture"] as? String) == server { offset = -offset }
        let clocks = correlatedRecords.filter { $0["type"] as? String == "clock" }
        #expect(clocks.count == 2)
        let serverClock = try #require(clocks.first { $0["capture"] as? String == server })
        let clientClock = try #require(clocks.first { $0["capture"] as? String == client })
        // One of them is the reference; the other's offset is the pair's, seen from the reference.
        if clientClock["reference"] as? String == nil {
            #expect(serverClock["reference"] as? String == client)
            #expect(abs((serverClock["offset"] as? Double ?? .nan) - offset) < 0.000002)
        } else {
            #expect(clientClock["reference"] as? String == server)
            #expect(abs((clientClock["offset"] as? Double ?? .nan) + offset) < 0.000002)
        }
        #expect(abs(offset - shift) < 0.05, "the offset found is the shift, give or take the relay's delay")
        #expect(serverClock["pairs"] as? Int == 1 && clientClock["pairs"] as? Int == 1)
    }

    /// The text ladder is the one `read` draws (session numbers aside), and the capture clocks follow.
    @Test func textLadderIsReadsLadder() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = capturesDir.appendingPathComponent("middlebox-store-and-forward-client-leg.pcap").path
        let server = capturesDir.appendingPathComponent("middlebox-store-and-forward-server-leg.pcap").path
        let (files, _) = try readApart([client, server], into: dir)
        let text = try runCLI(["correlate"] + files)
        let together = try runCLI(["read", client, server])
        /// The lines after the ladder's first (which numbers the sessions), to the blank line that ends it.
        func ladder(_ s: String) -> [Substring] {
            let lines = s.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("intercepted connection") }) else { return [] }
            var out: [Substring] = [], blanks = 0
            for line in lines[(start + 1)...] {
                if line.isEmpty { blanks += 1 }
                if blanks == 2 { break }
                out.append(line)
            }
            return out
        }
        #expect(!ladder(together.stdout).isEmpty)
        #expect(ladder(text.stdout) == ladder(together.stdout))
        #expect(text.stdout.contains("capture clocks"))
        #expect(text.stdout.contains("2 legs read · 1 intercepted connection"))
    }

    /// Legs divided among four runs by their `key` (as a keyed log topic divides them) give the
    /// same pairs as one run over all of them: every lab scenario's capture points, each scenario
    /// in its own two hours (as one lab's dialogues recorded at different times of day would be).
    /// As recorded, two scenarios whose legs carry EHLO and QUIT only fall within seconds of five
    /// sessions with the same greeting in other captures: one run weighs that greeting by all of
    /// them, a partition by those keyed alike, and the two differ on those pairs (docs/output.md).
    @Test func partitionsByKeyGiveTheSamePairs() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var captures: [String] = []
        for (k, (a, b)) in twoCaptureScenarios.enumerated() {
            for c in [a, b] {
                let path = capturesDir.appendingPathComponent(c).path
                captures.append(try shifted(path, by: Double(k * 7200), into: dir, name: "slot\(k)-\(c)"))
            }
        }
        let (files, apart) = try readApart(captures, into: dir)
        var lines: [String] = []
        for f in files { lines += try String(contentsOfFile: f, encoding: .utf8).split(separator: "\n").map(String.init) }
        // Each partition in the order the sessions ended, as a topic that producers append to as
        // they read has them.
        var parts = [[(Int, String)]](repeating: [], count: 4)
        for line in lines where line.hasPrefix(#"{"type":"leg""#) {
            let r = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            parts[partition(try #require(r["key"] as? String), of: 4)].append((try #require(r["end_ns"] as? Int), line))
        }
        #expect(parts.filter { !$0.isEmpty }.count >= 2, "the legs fall in more than one partition")
        // One run over everything: each capture point's output an input of its own.
        let whole = try runCLI(["correlate", "--format", "json"] + files)
        #expect(whole.status == 0 && whole.stderr.isEmpty, "\(whole.stderr)")
        let expected = try pairingRecords(try records(whole.stdout), sessions: apart)
        #expect(expected.count >= twoCaptureScenarios.count)
        var split: [String] = []
        for (k, part) in parts.enumerated() where !part.isEmpty {
            let file = dir.appendingPathComponent("part\(k).jsonl")
            try (part.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
            // One partition from standard input, as a consumer of a topic would give it.
            let r = k == 0 ? try runCLI(["correlate", "--format", "json", "-"], input: file) : try runCLI(["correlate", "--format", "json", file.path])
            #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
            split += try pairingRecords(try records(r.stdout), sessions: apart)
        }
        #expect(split.sorted() == expected)
        // Each scenario on its own: one pair each, between its own two captures.
        #expect(expected.count == twoCaptureScenarios.count)
    }

    /// A leg record reads back into the leg it was written from, every field and every byte:
    /// legs of every lab capture, and one with bytes that are not UTF-8, control characters,
    /// quotes and an IPv6 endpoint.
    @Test func legRecordsReadBackExactly() throws {
        var legs: [(Leg, String)] = []
        let names = try FileManager.default.contentsOfDirectory(atPath: capturesDir.path).filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
        for name in names {
            let (c, _) = analyze([capturesDir.appendingPathComponent(name).path])
            for s in c.sessions { legs.append((Leg(session: s, transactions: c.transactions(of: s)), name)) }
        }
        #expect(legs.count > 40)
        let t0 = Timestamp(nanoseconds: 1_796_029_245_652_737_123)
        let odd: [UInt8] = Array("EHLO h\u{e9}\"\\\t".utf8) + [0xff, 0x80, 0x00, 0x1b, 0xc3] + Array("\u{1F600}".utf8)
        let made = Leg(id: 7, session: 7, client: Endpoint(.v6(0x2001_0db8_0000_0000, 1), 50000), server: Endpoint(.v6(0, 0xffff_c633_6419), 25),
                       vantage: Vantage(file: 0, interface: 3), start: t0, end: t0.adding(seconds: 2),
                       commands: [Leg.Line(index: 0, time: t0.adding(seconds: -0.5), verb: .ehlo, text: odd, transaction: nil,
                                           reply: Leg.ReplyLine(time: t0.adding(seconds: 1), code: 250, text: [0xfe, 0x41], position: 1), position: 0),
                                  Leg.Line(index: 1, time: t0, verb: .endOfData, text: Array(".".utf8), transaction: 1, reply: nil, position: 3),
                                  Leg.Line(index: 2, time: t0, verb: .other("."), text: Array(".".utf8), transaction: nil, reply: nil, position: 4),
                                  Leg.Line(index: 3, time: t0, verb: .authResponse, text: Array("‹redacted›".utf8), transaction: nil, reply: nil, position: 5)],
                       banner: nil, messages: [Leg.Message(transaction: 1, end: t0, position: 2, size: 9, messageID: "<a\u{1}\"b@c>", subject: "Grüße 😀", outcome: .rejected)],
                       wire: Leg.Wire(isn: [4_294_967_295, nil], synTimestamp: [nil, 0], gaps: [1, 2], gapBytes: [30, 40]),
                       tls: Leg.TLS(issuer: "CN=Shield \"CA\"", ja3: nil))
        legs.append((made, "odd name \u{7f}.pcap"))
        for (leg, name) in legs {
            var w = JSONWriter()
            JSONRecords.leg(leg, captureName: name, into: &w)
            var bytes = w.bytes
            #expect(bytes.last == 0x0a)
            bytes.removeLast()
            #expect(LegRecord.isLeg(bytes))
            let parsed = try #require(LegRecord.parse(bytes), "\(name) session \(leg.session)")
            #expect(parsed.captureFile == name && parsed.interface == leg.vantage.interface && parsed.end == leg.end)
            let back = parsed.make(leg.id, leg.vantage.file)
            #expect(back.session == leg.session && back.endpointClient == leg.endpointClient && back.endpointServer == leg.endpointServer)
            #expect(back.start == leg.start && back.end == leg.end && back.vantage == leg.vantage)
            #expect(back.commands.count == leg.commands.count)
            for (x, y) in zip(back.commands, leg.commands) {
                #expect(x.index == y.index && x.time == y.time && x.verb == y.verb && x.text == y.text && x.transaction == y.transaction, "\(name): \(String(decoding: y.text, as: UTF8.self))")
                #expect(x.reply?.time == y.reply?.time && x.reply?.code == y.reply?.code && x.reply?.text == y.reply?.text)
            }
            #expect(back.banner?.text == leg.banner?.text && back.banner?.time == leg.banner?.time && back.banner?.code == leg.banner?.code)
            #expect(back.messages.map(\.messageID) == leg.messages.map(\.messageID) && back.messages.map(\.subject) == leg.messages.map(\.subject))
            #expect(back.messages.map(\.size) == leg.messages.map(\.size) && back.messages.map(\.end) == leg.messages.map(\.end))
            #expect(back.messages.map(\.outcome) == leg.messages.map(\.outcome) && back.messages.map(\.transaction) == leg.messages.map(\.transaction))
            #expect(back.wire.isn == leg.wire.isn && back.wire.synTimestamp == leg.wire.synTimestamp)
            #expect(back.wire.gaps == leg.wire.gaps && back.wire.gapBytes == leg.wire.gapBytes)
            #expect(back.tls == leg.tls)
            #expect(back.partitionKey == leg.partitionKey)
        }
    }

    /// Damaged and cut-off leg records are skipped and said, the rest is correlated, and the
    /// exit status says an input was damaged; a missing input likewise.
    @Test func damagedInputIsReportedNotFatal() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (files, _) = try readApart([capturesDir.appendingPathComponent("middlebox-plain-relay-client-leg.pcap").path,
                                        capturesDir.appendingPathComponent("middlebox-plain-relay-server-leg.pcap").path], into: dir)
        let damaged = dir.appendingPathComponent("damaged.jsonl")
        var text = try String(contentsOfFile: files[1], encoding: .utf8)
        text += #"{"type":"leg","session":9,"capture":{"file":"x","interface":0},"key":"mail:<a>","client":"1.2.3.4:5","#
        text += "\n" + #"{"type":"leg","session":"nine"}"# + "\n" + String(repeating: "[", count: 5000) + "\n"
        try text.write(to: damaged, atomically: true, encoding: .utf8)
        let r = try runCLI(["correlate", "--format", "json", files[0], damaged.path, dir.appendingPathComponent("missing.jsonl").path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("2 damaged leg records skipped"))
        #expect(r.stderr.contains("missing.jsonl"))
        #expect(try records(r.stdout).contains { $0["type"] as? String == "intercept" })
        // An input whose legs go back in time by more than the window is said (pairs may be
        // missing), not refused.
        let later = try runCLI(["read", "--format", "json", capturesDir.appendingPathComponent("middlebox-store-and-forward-client-leg.pcap").path])
        let earlier = try runCLI(["read", "--format", "json", capturesDir.appendingPathComponent("middlebox-inline-rewriter-client-leg.pcap").path])
        let backwards = dir.appendingPathComponent("backwards.jsonl")
        try (later.stdout + earlier.stdout).write(to: backwards, atomically: true, encoding: .utf8)
        let late = try runCLI(["correlate", backwards.path])
        #expect(late.status == 0)
        #expect(late.stderr.contains("1 leg came more than 30 minutes of capture time after later ones"))
        #expect(late.stdout.contains("2 legs read"))
        // A deep nest and a cut escape do not trouble the parser.
        #expect(LegRecord.parse(Array(String(repeating: "[", count: 100_000).utf8)) == nil)
        #expect(LegRecord.parse(Array(#"{"type":"leg","session":1,"capture":{"file":"\u12"#.utf8)) == nil)
    }
}
