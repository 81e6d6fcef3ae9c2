import Foundation
@testable import Reporting
import Testing
import Vocabulary

/// A Zeek ASCII log read the way `zeek-cut` reads one (zeek-cut itself is not packaged for Debian):
/// the separator from the `#separator` line (its `\xNN` escape decoded), the column names from
/// `#fields`, data lines split at the separator.
struct ZeekASCIILog {
    var separator = "\t"
    /// `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#open`, `#close` → value.
    var meta: [String: String] = [:]
    var fields: [String] = []
    var types: [String] = []
    var rows: [[String]] = []
    /// Header lines in the order met (`#separator`, `#set_separator`, …), without their values.
    var headerOrder: [String] = []

    init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("#separator ") {
                separator = Self.unescape(String(line.dropFirst("#separator ".count)))
                headerOrder.append("#separator")
                continue
            }
            if line.hasPrefix("##") { continue }  // a btest banner
            let parts = line.components(separatedBy: separator)
            if line.hasPrefix("#") {
                let name = parts[0].split(separator: " ").first.map(String.init) ?? parts[0]
                headerOrder.append(name)
                switch name {
                case "#fields": fields = Array(parts.dropFirst())
                case "#types": types = Array(parts.dropFirst())
                default: meta[name] = parts.count > 1 ? parts[1] : ""
                }
                continue
            }
            rows.append(parts)
        }
    }

    /// `zeek-cut col…`: the named columns of every data line.
    func cut(_ columns: [String]) -> [[String]] {
        let positions = columns.map { fields.firstIndex(of: $0) }
        return rows.map { row in positions.map { p in p.flatMap { row.indices.contains($0) ? row[$0] : nil } ?? "" } }
    }

    func value(_ row: [String], _ field: String) -> String? {
        fields.firstIndex(of: field).flatMap { row.indices.contains($0) ? row[$0] : nil }
    }

    static func unescape(_ s: String) -> String {
        var out = [UInt8]()
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 0x5c, i + 3 < b.count, b[i + 1] == UInt8(ascii: "x"), let v = UInt8(String(decoding: b[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Zeek peer captures whose folder holds Zeek's own smtp.log baseline for them.
let zeekBaselines: [(capture: String, baseline: String)] = peerCaptures.filter { $0.hasPrefix("zeek/") }.compactMap { capture in
    let dir = peerDir.appendingPathComponent(capture).appendingPathComponent("peer")
    // The `-disable-analyzer` variant is Zeek run with a lowered SMTP::max_invalid_mail_transactions.
    guard let name = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted()
        .first(where: { $0.hasSuffix("__smtp.log") && !$0.contains("disable-analyzer") }) else { return nil }
    return (capture, dir.appendingPathComponent(name).path)
}

func capturePath(_ capture: String) throws -> String {
    let dir = peerDir.appendingPathComponent(capture)
    let name = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") })
    return dir.appendingPathComponent(name).path
}

@Suite(.enabled(if: peerCapturesExpected, "../shared/peer-captures is not beside this clone")) struct ZeekLogTests {
    /// Fields whose value differs from Zeek's baseline on purpose, and why.
    static let onPurpose: [String: String] = [
        "ts": "btest masks times in the baseline (XXXXXXXXXX.XXXXXX); smtpscope's is checked for Zeek's form, seconds with six decimals",
        "uid": "Zeek's uid is a random per-run connection id (masked by btest too); smtpscope writes the Community ID, which joins the row to its own JSON and to Suricata's and Arkime's records",
        "fuids": "Zeek's file ids come from its file analysis, random per run; smtpscope extracts no files, so the vector is always empty",
    ]
    /// Zeek's set[string] columns: Zeek writes a set in hash order, so they compare as sets.
    static let setFields: Set<String> = ["rcptto", "to", "cc"]

    @Test func zeekBaselinesArePresent() {
        #expect(zeekBaselines.count >= 7, "\(zeekBaselines.map(\.capture))")
    }

    /// smtpscope's `--format zeek` against Zeek's own smtp.log for the same capture: the header
    /// lines, the columns, the number of rows, and every field of every row.
    @Test(arguments: zeekBaselines.map(\.capture))
    func matchesZeekBaseline(capture: String) throws {
        let baselinePath = try #require(zeekBaselines.first { $0.capture == capture }?.baseline)
        let expected = ZeekASCIILog(try String(contentsOfFile: baselinePath, encoding: .utf8))
        let run = try runCLI(["read", "--format", "zeek", try capturePath(capture)])
        #expect(run.status == 0, "\(run.stderr)")
        let ours = ZeekASCIILog(run.stdout)
        #expect(ours.separator == "\t")
        #expect(ours.headerOrder == ["#separator", "#set_separator", "#empty_field", "#unset_field", "#path", "#open", "#fields", "#types", "#close"])
        for key in ["#set_separator", "#empty_field", "#unset_field", "#path"] {
            #expect(ours.meta[key] == expected.meta[key], "\(key)")
        }
        #expect(ours.meta["#open"]?.range(of: #"^\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d$"#, options: .regularExpression) != nil)
        #expect(ours.fields == expected.fields)
        #expect(ours.types == expected.types)
        #expect(!expected.rows.isEmpty)
        #expect(ours.rows.count == expected.rows.count, "\(capture): \(ours.rows.count) rows, Zeek \(expected.rows.count)")
        var compared = 0
        for (n, (mine, theirs)) in zip(ours.rows, expected.rows).enumerated() {
            #expect(mine.count == expected.fields.count)
            for field in expected.fields {
                let a = try #require(ours.value(mine, field)), b = try #require(expected.value(theirs, field))
                switch field {
                case "ts":
                    #expect(b == "XXXXXXXXXX.XXXXXX", "the baseline's time is masked")
                    #expect(a.range(of: #"^\d{10}\.\d{6}$"#, options: .regularExpression) != nil, "\(a)")
                case "uid":
                    let orig = try endpoint(ours.value(mine, "id.orig_h"), ours.value(mine, "id.orig_p"))
                    let resp = try endpoint(ours.value(mine, "id.resp_h"), ours.value(mine, "id.resp_p"))
                    #expect(a == CommunityID.v1(orig, resp), "row \(n)")
                    #expect(b.hasPrefix("C"), "Zeek's uid")
                case "fuids":
                    #expect(a == "(empty)")
                case _ where Self.setFields.contains(field):
                    #expect(Set(a.split(separator: ",")) == Set(b.split(separator: ",")), "\(capture) row \(n) \(field): \(a) vs Zeek \(b)")
                    compared += 1
                default:
                    #expect(a == b, "\(capture) row \(n) \(field): \(a) vs Zeek \(b)")
                    compared += 1
                }
            }
        }
        #expect(compared == expected.rows.count * (expected.fields.count - Self.onPurpose.count))
    }

    /// The same rows as Zeek's JSON writer writes them: one object per line, `id.*` dotted keys in
    /// Zeek's column order, unset fields left out, sets and vectors as arrays, `fuids` `[]`.
    @Test(arguments: zeekBaselines.map(\.capture))
    func zeekJSONAgreesWithTheASCIILog(capture: String) throws {
        let path = try capturePath(capture)
        let ascii = ZeekASCIILog(try runCLI(["read", "--format", "zeek", path]).stdout)
        let run = try runCLI(["read", "--format", "zeek-json", path])
        #expect(run.status == 0)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == ascii.rows.count && !lines.isEmpty)
        let types = Dictionary(uniqueKeysWithValues: zip(ascii.fields, ascii.types))
        for (line, row) in zip(lines, ascii.rows) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let present = ascii.fields.filter { ascii.value(row, $0) != "-" }
            // Key order as written.
            let positions = present.map { line.range(of: "\"\($0)\":")?.lowerBound }
            #expect(!positions.contains(nil), "\(present) in \(line)")
            #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted(), "keys out of Zeek's order: \(line)")
            #expect(Set(object.keys) == Set(present), "\(line)")
            for field in present {
                let text = try #require(ascii.value(row, field))
                let value = object[field]
                switch types[field] {
                case "time": #expect(abs((value as? Double ?? 0) - (Double(text) ?? -1)) < 1e-6, "\(field)")
                case "port", "count": #expect(value as? Int == Int(text), "\(field)")
                case "bool": #expect(value as? Bool == (text == "T"), "\(field)")
                case "set[string]", "vector[addr]", "vector[string]":
                    let list = try #require(value as? [String], "\(field) is an array")
                    #expect(list == (text == "(empty)" ? [] : text.split(separator: ",").map(String.init)), "\(field)")
                default: #expect(value as? String == text, "\(field)")
                }
            }
            #expect(object["fuids"] as? [String] == [], "fuids is always present, [] when empty")
        }
    }

    /// `zeek-cut` picks columns by the names in `#fields`: what a script reading smtp.log gets.
    @Test func zeekCutPicksColumnsByName() throws {
        let run = try runCLI(["read", "--format", "zeek", try capturePath("zeek/smtp")])
        let log = ZeekASCIILog(run.stdout)
        #expect(log.cut(["mailfrom", "trans_depth", "last_reply"]) == [
            ["gurpartap@patriots.in", "1", "250 OK id=1Mugho-0003Dg-Un"],
            ["albert@example.com", "1", "250 Ok"],
        ])
        #expect(log.cut(["id.resp_p", "tls", "subject"]) == [["25", "F", "SMTP"], ["25", "F", "Re: Bro SMTP CC Header"]])
    }

    func endpoint(_ host: String?, _ port: String?) throws -> Endpoint {
        let h = try #require(host), p = try #require(port.flatMap { UInt16($0) })
        let parts = h.split(separator: ".").compactMap { UInt32($0) }
        try #require(parts.count == 4, "IPv4 in these captures")
        return Endpoint(.v4(parts.reduce(0) { $0 << 8 | $1 }), p)
    }
}

/// Zeek's rules for what it logs, on a dialogue built for them: header values as sent, Received
/// headers for the path, refused recipients kept, an end-of-data reply counted whatever its code,
/// a session without MAIL giving no row, and the ASCII writer's escapes.
@Suite struct ZeekRowTests {
    static func capture() throws -> String {
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40001)
        c.open(&b)
        func say(_ client: String?, _ server: String?) {
            if let client { c.client(&b, Array(client.utf8)) }
            if let server { c.server(&b, Array(server.utf8)) }
        }
        say(nil, "220 mx.example.org ESMTP\r\n")
        say("EHLO client.example\r\n", "250 mx.example.org\r\n")
        say("MAIL FROM:<a@example.org> SIZE=100\r\n", "250 2.1.0 Ok\r\n")
        say("RCPT TO:<b@example.net> ORCPT=rfc822;b@example.net\r\n", "250 2.1.5 Ok\r\n")
        say("RCPT TO:<c@example.net>\r\n", "550 5.1.1 no such user\r\n")
        say("DATA\r\n", "354 go ahead\r\n")
        var message = "Received: from relay.example ([198.51.100.7]) by mx.example.org with ESMTP\r\n"
        message += "Received: from ws ([10.0.0.5]) by relay.example with ESMTP\r\n"
        message += "X-Originating-IP: [203.0.113.9]\r\n"
        message += "X-Mailer: Tab\there\r\n"
        message += "From: \"Doe, John\" <a@example.org>\r\n"
        message += "To: \"Roe, R\" <b@example.net>, c@example.net\r\n"
        message += "Subject: =?UTF-8?B?w6k=?= back\\slash caf\u{e9}\r\n"
        message += "Reply-To: r@example.org\r\nIn-Reply-To: <x@y>\r\nMessage-ID: <m@example.org>\r\n\r\nbody\r\n.\r\n"
        say(message, "250 2.0.0 Ok: queued as ABC123\r\n")
        say("MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n")
        say("RCPT TO:<d@example.net>\r\n", "250 2.1.5 Ok\r\n")
        say("DATA\r\n", "354 go ahead\r\n")
        c.client(&b, Array("Subject: -\r\nTo: (empty)\r\n\r\nx\r\n.\r\n".utf8))
        c.server(&b, Array("554 5.7.1 rejected\r\n".utf8))
        say("QUIT\r\n", "221 bye\r\n")
        c.close(&b)
        // A second connection with no MAIL: Zeek writes no row for it.
        var d = ScriptedConnection(clientPort: 40002)
        d.open(&b)
        d.server(&b, Array("220 mx.example.org ESMTP\r\n".utf8))
        d.client(&b, Array("EHLO other.example\r\n".utf8))
        d.server(&b, Array("250 mx.example.org\r\n".utf8))
        d.client(&b, Array("QUIT\r\n".utf8))
        d.server(&b, Array("221 bye\r\n".utf8))
        d.close(&b)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-zeek-\(UUID().uuidString).pcap")
        try Data(b.data).write(to: url)
        return url.path
    }

    @Test func rowsFollowZeeksScript() throws {
        let path = try Self.capture()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try runCLI(["read", "--format", "zeek", path])
        #expect(run.status == 0, "\(run.stderr)")
        let log = ZeekASCIILog(run.stdout)
        try #require(log.rows.count == 2, "\(run.stdout)")
        let first = log.rows[0], second = log.rows[1]
        func v(_ row: [String], _ f: String) -> String { log.value(row, f) ?? "?" }
        #expect(v(first, "trans_depth") == "1")
        #expect(v(first, "helo") == "client.example")
        #expect(v(first, "mailfrom") == "a@example.org")
        // Every RCPT sent, the refused one too; ORCPT's address is the same one.
        #expect(v(first, "rcptto") == "b@example.net,c@example.net")
        // Header values as sent: the encoded word not decoded, a backslash and a tab escaped,
        // valid UTF-8 kept, a comma inside a set element escaped.
        #expect(v(first, "subject") == "=?UTF-8?B?w6k=?= back\\x5cslash caf\u{e9}")
        #expect(v(first, "user_agent") == "Tab\\x09here")
        #expect(v(first, "from") == "\"Doe, John\" <a@example.org>")
        #expect(v(first, "to") == "\"Roe\\x2c R\" <b@example.net>,c@example.net")
        #expect(v(first, "reply_to") == "r@example.org")
        #expect(v(first, "in_reply_to") == "<x@y>")
        #expect(v(first, "msg_id") == "<m@example.org>")
        #expect(v(first, "x_originating_ip") == "203.0.113.9")
        // first_received is the last Received header read, second_received the one before.
        #expect(v(first, "first_received") == "from ws ([10.0.0.5]) by relay.example with ESMTP")
        #expect(v(first, "second_received") == "from relay.example ([198.51.100.7]) by mx.example.org with ESMTP")
        #expect(v(first, "path") == "198.51.100.25,192.0.2.10,198.51.100.7,10.0.0.5")
        #expect(v(first, "last_reply") == "250 2.0.0 Ok: queued as ABC123")
        #expect(v(first, "tls") == "F")
        // The refused message still counts as transferred: depth 2 is the next row's.
        #expect(v(second, "trans_depth") == "2")
        #expect(v(second, "mailfrom") == "-", "<> gives no address")
        #expect(v(second, "subject") == "\\x2d", "a value reading as the unset mark is escaped")
        #expect(v(second, "to") == "\\x28empty)", "a set element reading as the empty mark is escaped")
        #expect(v(second, "last_reply") == "554 5.7.1 rejected")
        #expect(v(second, "cc") == "-")
    }

    @Test func escapesAsZeeksASCIIWriter() {
        func esc(_ s: [UInt8], set: Bool = false) -> String {
            var out: [UInt8] = []
            ZeekLogWriter.escaped(s, inSet: set, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(esc([]) == "(empty)")
        #expect(esc(Array("-".utf8)) == "\\x2d")
        #expect(esc(Array("(empty)".utf8)) == "\\x28empty)")
        #expect(esc(Array("a\tb\\c".utf8)) == "a\\x09b\\x5cc")
        #expect(esc([0x61, 0xff, 0x7f, 0x00]) == "a\\xff\\x7f\\x00")
        #expect(esc(Array("é,x".utf8)) == "é,x")
        #expect(esc(Array("é,x".utf8), set: true) == "é\\x2cx")
        #expect(ZeekLogWriter.epoch(Timestamp(nanoseconds: 1_254_722_767_492_060_400)) == "1254722767.492060")
    }
}
