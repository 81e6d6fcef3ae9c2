import Crypto
import Foundation
import Pipeline
import Testing

/// `read --export-dir`: the messages of the lab captures come out as the clients sent them, byte
/// for byte; gaps are marked; TLS messages export with their keys; part file names from the
/// message never leave the directory; a directory that cannot be written is one error line.
@Suite struct ExportTests {
    /// How a lab client turned the message file (LF line ends) into what it sent: every client
    /// sends CRLF line ends; swaks then sends its own `CRLF.CRLF` after the file's last line, so
    /// the message it sent ends with an empty line (RFC 5321 §4.1.1.4: the first CRLF of the
    /// terminator ends the previous line).
    enum Client {
        case swaks, other
        func sent(_ file: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            for b in file {
                if b == 0x0a { out.append(0x0d) }
                out.append(b)
            }
            if self == .swaks { out += [0x0d, 0x0a] }
            return out
        }
    }

    /// Which capture sent which message (Captures/lab/scenarios.sh), in the order of the exported
    /// files' names (time, then session and transaction). Captures whose messages are written by
    /// a lab script rather than kept as a file (smtplib-delivery, bdat-chunking, the raw-client
    /// captures) and those whose message a middlebox changed on the way are not listed.
    static let sent: [(capture: String, keys: String?, client: Client, messages: [String])] = [
        ("plain-delivery.pcap", nil, .swaks, ["plain.eml"]),
        ("alt-port-detected.pcap", nil, .swaks, ["alt-port-detected.eml"]),
        ("auth-login.pcap", nil, .swaks, ["auth-login.eml"]),
        ("auth-plain.pcap", nil, .swaks, ["auth-plain.eml"]),
        ("cooked-any.pcap", nil, .swaks, ["cooked.eml"]),
        ("ipv6-delivery.pcap", nil, .swaks, ["ipv6.eml"]),
        ("pipelining-rcpt-refused.pcap", nil, .swaks, ["pipelining.eml"]),
        ("tso-sender.pcap", nil, .swaks, ["tso-sender.eml"]),
        ("double-capture-workstation.pcap", nil, .swaks, ["double-capture.eml"]),
        ("double-capture-mailserver.pcap", nil, .swaks, ["double-capture.eml"]),
        ("nat-double-capture-workstation.pcap", nil, .swaks, ["nat-double-capture.eml"]),
        ("middlebox-divergent-client-leg.pcap", nil, .swaks, ["middlebox-divergent.eml"]),
        ("middlebox-reconnect-both-legs.pcapng", nil, .swaks, ["middlebox-reconnect.eml", "middlebox-reconnect.eml"]),
        ("middlebox-store-and-forward-both-legs.pcapng", nil, .swaks, ["middlebox-store-and-forward.eml", "middlebox-store-and-forward.eml"]),
        ("middlebox-starttls-answered-client-leg.pcap", nil, .swaks, ["middlebox-starttls-answered.eml"]),
        ("msmtp-delivery.pcap", nil, .other, ["msmtp.eml"]),
        ("http-connect-proxy.pcap", nil, .other, ["http-connect-proxy.eml"]),
        ("socks4-proxy.pcap", nil, .other, ["socks4-proxy.eml"]),
        ("socks5-proxy.pcap", nil, .other, ["socks5-proxy.eml"]),
        ("middlebox-plain-relay-both-legs.pcapng", nil, .other, ["middlebox-plain-relay.eml", "middlebox-plain-relay.eml"]),
        ("subject-8bit.pcap", nil, .other, ["subject-8bit-cp1252.eml", "subject-8bit-latin9.eml"]),
        ("two-clients-same-message.pcap", nil, .other, ["two-clients-same-message.eml", "two-clients-same-message.eml"]),
        ("two-clients-same-message-sequential.pcap", nil, .other, ["two-clients-same-message-sequential.eml", "two-clients-same-message-sequential.eml"]),
        // Decrypted with the clients' key logs.
        ("tls13-starttls-msmtp.pcap", "tls13-starttls-msmtp.keys", .other, ["tls13-starttls-msmtp.eml"]),
        ("tls12-starttls-chacha-msmtp.pcap", "tls12-starttls-chacha-msmtp.keys", .other, ["tls12-starttls-chacha-msmtp.eml"]),
        ("tls12-starttls-gcm-smtplib.pcap", "tls12-starttls-gcm-smtplib.keys", .other, ["tls12-starttls-gcm-smtplib.eml"]),
        ("tls12-implicit-cbc-smtplib.pcap", "tls12-implicit-cbc-smtplib.keys", .other,
         ["tls12-implicit-cbc-smtplib-1.eml", "tls12-implicit-cbc-smtplib-2.eml", "tls12-implicit-cbc-smtplib-3.eml"]),
        ("tls-intercepting-shield-client-leg.pcap", "tls-intercepting-shield-client-leg.keys", .other, ["tls-intercepting-shield.eml"]),
    ]

    static func labMessage(_ name: String) throws -> [UInt8] {
        for dir in ["Captures/lab/messages", "Captures"] {
            if let d = FileManager.default.contents(atPath: repoRoot.appendingPathComponent(dir).appendingPathComponent(name).path) { return Array(d) }
        }
        throw CocoaError(.fileNoSuchFile)
    }

    static func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-export-\(UUID().uuidString)")
    }

    /// Runs `read --export-dir` (plus `extra`) on one capture; returns the directory.
    static func export(_ capture: String, keys: String? = nil, _ extra: [String] = []) throws -> (URL, RunResult) {
        let dir = tempDir()
        var args = ["read", "--export-dir", dir.path] + extra
        if let keys { args += ["--keylog", "Captures/" + keys] }
        let r = try runCLI(args + ["Captures/" + capture])
        return (dir, r)
    }

    static func files(_ dir: URL, _ ext: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: sent.map(\.capture))
    func messagesAreWhatTheClientSent(_ capture: String) throws {
        let row = try #require(Self.sent.first { $0.capture == capture })
        let (dir, r) = try Self.export(capture, keys: row.keys)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0, "\(r.stderr)")
        let emls = Self.files(dir, "eml")
        #expect(emls.count == row.messages.count)
        for (eml, name) in zip(emls, row.messages) {
            let got = try [UInt8](Data(contentsOf: eml))
            let want = row.client.sent(try Self.labMessage(name))
            #expect(got == want, "\(eml.lastPathComponent) is not \(name) as sent")
            #expect(!eml.lastPathComponent.contains("-gap") && !eml.lastPathComponent.contains("-incomplete"))
            let json = try #require(loadJSON(eml.deletingPathExtension().appendingPathExtension("json")))
            #expect(json["eml"] as? String == eml.lastPathComponent)
            #expect(json["octets_written"] as? Int == want.count)
            #expect(json["message_complete"] as? Bool == true)
            #expect((json["gaps"] as? [Any])?.isEmpty == true)
            #expect(json["mail_from"] as? String == "alice@example.net")
            #expect(json["tls"] as? Bool == (row.keys != nil))
        }
    }

    /// Without the key log the TLS capture's message cannot be read, so nothing is written.
    @Test func tlsWithoutKeysExportsNothing() throws {
        let (dir, r) = try Self.export("tls13-starttls-msmtp.pcap")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0)
        #expect(Self.files(dir, "eml").isEmpty)
    }

    /// Names sort by time and name their session and transaction.
    @Test func namesSortByTimeAndNameTheTransaction() throws {
        let (dir, _) = try Self.export("tls12-implicit-cbc-smtplib.pcap", keys: "tls12-implicit-cbc-smtplib.keys")
        defer { try? FileManager.default.removeItem(at: dir) }
        let names = Self.files(dir, "eml").map(\.lastPathComponent)
        #expect(names.count == 3)
        #expect(names.map { String($0.dropFirst(24)) } == ["s1-t1.eml", "s1-t2.eml", "s2-t1.eml"])
        for n in names { #expect(n.wholeMatch(of: /\d{8}T\d{6}\.\d{6}Z-s\d+-t\d+\.eml/) != nil, "\(n)") }
        let json = try #require(loadJSON(dir.appendingPathComponent(names[0]).deletingPathExtension().appendingPathExtension("json")))
        #expect(json["session"] as? Int == 1)
        #expect(json["transaction"] as? Int == 1)
        #expect(json["outcome"] as? String == "queued")
        #expect((json["reply"] as? [String: Any])?["code"] as? Int == 250)
        #expect(json["rcpt_to"] as? [String] == ["bob@example.org"])
    }

    /// The 2 MB message sent over the lossy, reordering link comes out whole: its SHA-256 is that
    /// of make_large_message.py's output with CRLF line ends and swaks's last CRLF (computed once
    /// from the script: `python3 make_large_message.py | sed 's/$/\r/'`, plus CRLF). Its 1.45 MB
    /// attachment decodes to 1 450 000 octets.
    @Test func largeMessageOverALossyLinkIsWhole() throws {
        let (dir, r) = try Self.export("large-message-impaired.pcap", ["--export-attachments"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0)
        let eml = try #require(Self.files(dir, "eml").first)
        let bytes = try Data(contentsOf: eml)
        #expect(bytes.count == 1_984_802)
        #expect(SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() == "dbf286ec31d1ae41383d447ad91dae1910e235ec15ed5d470ed9ba4076d7a5fa")
        let json = try #require(loadJSON(eml.deletingPathExtension().appendingPathExtension("json")))
        let parts = try #require(json["attachments"] as? [[String: Any]])
        #expect(parts.count == 2)
        #expect(parts.last?["filename"] as? String == "data.bin")
        #expect(parts.last?["size"] as? Int == 1_450_000)
        #expect(parts.last?["complete"] as? Bool == true)
        let file = try #require(parts.last?["file"] as? String)
        let data = try Data(contentsOf: dir.appendingPathComponent(file))
        #expect(data.count == 1_450_000)
        #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == parts.last?["sha256"] as? String)
    }

    /// A message with octets missing: the name says `-gap`, the `.json` says where and how many;
    /// the `.eml` is the message as sent without the missing octets.
    @Test(arguments: [("double-capture-workstation-dropped.pcap", "double-capture.eml"), ("snaplen-cut.pcap", "snaplen.eml")])
    func gapsAreMarked(_ capture: String, _ message: String) throws {
        let (dir, r) = try Self.export(capture)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0)
        let eml = try #require(Self.files(dir, "eml").first)
        #expect(eml.lastPathComponent.hasSuffix("-gap.eml"))
        let json = try #require(loadJSON(eml.deletingPathExtension().appendingPathExtension("json")))
        #expect(json["message_complete"] as? Bool == false)
        let gaps = try #require(json["gaps"] as? [[String: Any]])
        #expect(!gaps.isEmpty)
        // The message as sent, with the octets the gaps name taken out, is the file.
        let sent = Client.swaks.sent(try Self.labMessage(message))
        var expected: [UInt8] = []
        var source = 0, written = 0
        for g in gaps {
            let offset = try #require(g["offset"] as? Int), length = try #require(g["length"] as? Int)
            let take = min(offset - written, sent.count - source)
            expected += sent[source..<(source + take)]
            source = min(sent.count, source + take + length)
            written = offset
        }
        expected += sent[source...]
        #expect(try [UInt8](Data(contentsOf: eml)) == expected)
    }

    // MARK: - Against tshark --export-objects imf

    /// What tshark 4.0 writes for a message: it does not remove the dot-stuffing (RFC 5321
    /// §4.5.2), and when the client sends the terminator `CRLF.CRLF` in a segment of its own after
    /// an empty last line (swaks), tshark takes that CRLF for the terminator's and drops the
    /// message's last line end.
    static func tsharkView(_ ours: [UInt8]) -> [[UInt8]] {
        var stuffed: [UInt8] = []
        var lineStart = true
        for b in ours {
            if lineStart, b == UInt8(ascii: ".") { stuffed.append(b) }
            stuffed.append(b)
            lineStart = b == 0x0a
        }
        var views = [stuffed]
        if stuffed.suffix(4) == [0x0d, 0x0a, 0x0d, 0x0a] { views.append(Array(stuffed.dropLast(2))) }
        return views
    }

    static func tshark(_ capture: URL, keys: String? = nil) throws -> [[UInt8]] {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
        p.arguments = ["-r", capture.path, "-q", "--export-objects", "imf,\(dir.path)"] + (keys.map { ["-o", "tls.keylog_file:\($0)"] } ?? [])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return try Self.files(dir, "eml").map { try [UInt8](Data(contentsOf: $0)) }.sorted { $0.count < $1.count }
    }

    @Test(arguments: ["plain-delivery.pcap", "msmtp-delivery.pcap", "pipelining-rcpt-refused.pcap", "tso-sender.pcap", "subject-8bit.pcap",
                      "relay-connection-reuse.pcap", "smtplib-delivery.pcap", "lso-offload-windows.pcap", "tls12-starttls-gcm-smtplib.pcap"])
    func sameAsTshark(_ capture: String) throws {
        let keys = capture.hasPrefix("tls") ? capture.replacingOccurrences(of: ".pcap", with: ".keys") : nil
        let (dir, _) = try Self.export(capture, keys: keys)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ours = try Self.files(dir, "eml").map { try [UInt8](Data(contentsOf: $0)) }
        let theirs = try Self.tshark(capturesDir.appendingPathComponent(capture), keys: keys.map { capturesDir.appendingPathComponent($0).path })
        #expect(ours.count == theirs.count)
        for t in theirs {
            #expect(ours.contains { Self.tsharkView($0).contains(t) }, "tshark's \(t.count)-octet message differs from every exported one")
        }
    }

    /// tshark 4.0 exports no message where smtpscope finds one: SMTP on another port (found by
    /// content), inside an HTTP CONNECT tunnel, a message whose segments the snap length cut, and
    /// (given the same key log) the msmtp STARTTLS sessions in TLS 1.3 and TLS 1.2 ChaCha20.
    @Test(arguments: ["alt-port-detected.pcap", "http-connect-proxy.pcap", "snaplen-cut.pcap", "tls13-starttls-msmtp.pcap", "tls12-starttls-chacha-msmtp.pcap"])
    func tsharkMissesThese(_ capture: String) throws {
        let keys = capture.hasPrefix("tls") ? capture.replacingOccurrences(of: ".pcap", with: ".keys") : nil
        let (dir, _) = try Self.export(capture, keys: keys)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(Self.files(dir, "eml").count == 1)
        #expect(try Self.tshark(capturesDir.appendingPathComponent(capture), keys: keys.map { capturesDir.appendingPathComponent($0).path }).isEmpty)
    }

    /// The Wireshark wiki's `smtp.pcap` (kept by Zeek as testing/btest/Traces/smtp.pcap, first
    /// session). tshark 4.0 repeats the start of the message in the middle of it: at octet 5840
    /// (four 1460-octet segments in) its object holds the message's first 508 octets and then
    /// octets from 1460 on, instead of the octets from 5840 on, and agrees again further on. The
    /// exported message is consistent where tshark's is not: its parts are where the MIME
    /// structure says, and its sizes are Zeek's.
    @Test func wiresharkWikiCapture() throws {
        let capture = peerDir.appendingPathComponent("zeek/smtp/smtp.pcap")
        guard FileManager.default.fileExists(atPath: capture.path) else {
            #expect(!peerCapturesExpected, "the peer captures are missing")
            return
        }
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runCLI(["read", "--export-dir", dir.path, "--export-attachments", capture.path])
        #expect(r.status == 0)
        let emls = Self.files(dir, "eml")
        #expect(emls.count == 2)
        let ours = try [UInt8](Data(contentsOf: try #require(emls.first)))
        let theirs = try Self.tshark(capture)
        let wiki = try #require(theirs.last, "tshark exports the wiki message")
        // (This message ends with an empty line too, whose line end tshark drops.)
        let view = try #require(Self.tsharkView(ours).last)
        // Equal up to the fifth segment, then the message's start again.
        let split = zip(wiki, view).prefix { $0 == $1 }.count
        #expect(split == 5840)
        #expect(Array(wiki[split..<(split + 508)]) == Array(view[0..<508]))
        #expect(Array(wiki[(split + 508)..<(split + 600)]) == Array(view[1460..<1552]))
        // The tails agree again: tshark's object is 612 octets longer.
        #expect(wiki.count == view.count + 612)
        #expect(Array(wiki.suffix(7000)) == Array(view.suffix(7000)))
        #expect(!(ours[split..<(split + 508)].elementsEqual(ours[0..<508])), "the exported message does not repeat its start")

        // Zeek's files.log for the same message: parts of 77, 1868 and 10809 octets, the last
        // NEWS.txt. Zeek counts the line break before the boundary into quoted-printable parts
        // (RFC 2046 §5.1.1 gives it to the boundary), so those two are 2 octets larger there.
        let json = try #require(loadJSON(emls[0].deletingPathExtension().appendingPathExtension("json")))
        let parts = try #require(json["attachments"] as? [[String: Any]])
        #expect(parts.compactMap { $0["size"] as? Int } == [77, 1866, 10807])
        #expect(parts.map { $0["encoding"] as? String } == ["7bit", "quoted-printable", "quoted-printable"])
        #expect(parts.last?["filename"] as? String == "NEWS.txt")
        for p in parts {
            let file = try #require(p["file"] as? String)
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            #expect(data.count == p["size"] as? Int)
            #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == p["sha256"] as? String)
        }
        let news = try String(decoding: Data(contentsOf: dir.appendingPathComponent(try #require(parts.last?["file"] as? String))), as: UTF8.self)
        #expect(news.hasPrefix("Version 4.9.9.1"))
        #expect(!news.contains("=\r\n"), "soft line breaks are undone")
    }

    // MARK: - Hostile names, unwritable directories

    /// A message whose parts carry file names built to escape: path separators, `..`, control
    /// bytes, bidi overrides, a name far over NAME_MAX, a name that is only dots.
    static func hostileCapture() -> URL {
        let names = ["../../../../tmp/evil.sh", "..", "...", "a/b\\c.txt", "/etc/passwd", "bell\u{07}\u{1b}[31mred.txt",
                     "invoice\u{202e}fdp.exe", String(repeating: "long", count: 200) + ".pdf", ".hidden", "nul\u{0}byte"]
        var body = "From: a@example.net\r\nSubject: hostile\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        for (i, n) in names.enumerated() {
            let quoted = n.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            body += "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"\(quoted)\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            body += Data("part \(i)\n".utf8).base64EncodedString() + "\r\n"
        }
        // RFC 2231 percent-encoding, which decodes to a path separator.
        body += "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Fx\r\n\r\nplain\r\n--b--\r\n"
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40000)
        c.open(&b)
        c.server(&b, Array("220 mx ESMTP\r\n".utf8))
        for (cmd, reply) in [("EHLO ws\r\n", "250 mx\r\n"), ("MAIL FROM:<a@example.net>\r\n", "250 ok\r\n"), ("RCPT TO:<b@example.org>\r\n", "250 ok\r\n"), ("DATA\r\n", "354 go\r\n")] {
            c.client(&b, Array(cmd.utf8))
            c.server(&b, Array(reply.utf8))
        }
        c.client(&b, Array((body + ".\r\n").utf8))
        c.server(&b, Array("250 2.0.0 queued as ABC123\r\n".utf8))
        c.client(&b, Array("QUIT\r\n".utf8))
        c.server(&b, Array("221 bye\r\n".utf8))
        c.close(&b)
        let url = tempDir().appendingPathExtension("pcap")
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(b.data))
        return url
    }

    @Test func hostileFileNamesStayInside() throws {
        let capture = Self.hostileCapture()
        let parent = Self.tempDir()
        let dir = parent.appendingPathComponent("out")
        defer {
            try? FileManager.default.removeItem(at: capture)
            try? FileManager.default.removeItem(at: parent)
        }
        let r = try runCLI(["read", "--export-dir", dir.path, "--export-attachments", "--format", "json", capture.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        // Everything written is inside DIR, and DIR's parent holds only DIR.
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["out"])
        let all = try #require(FileManager.default.subpathsOfDirectory(atPath: dir.path) as [String]?)
        let parts = all.filter { $0.contains(".parts/") }
        #expect(parts.count == 11)
        for p in parts {
            let name = String(p.split(separator: "/").last ?? "")
            #expect(p.split(separator: "/").count == 2, "\(p) is one file in the parts directory")
            #expect(!name.hasPrefix("."))
            #expect(name.utf8.count <= 130)
            #expect(name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f && $0 != "\u{202e}" && $0 != "/" && $0 != "\\" }, "\(p)")
        }
        #expect(parts.contains { $0.hasSuffix("/7-" + String(repeating: "long", count: 29) + ".pdf") }, "a long name keeps its extension")
        // The JSON keeps the names as sent (escaped), for the analyst.
        let json = try #require(Self.files(dir, "json").first.flatMap(loadJSON))
        let names = (json["attachments"] as? [[String: Any]])?.compactMap { $0["filename"] as? String } ?? []
        #expect(names.first == "../../../../tmp/evil.sh")
        #expect(names.last == "../../x")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/evil.sh"))
    }

    /// A message whose end never came (the connection closed in the middle of DATA) is named
    /// `-incomplete` and written as far as it went.
    @Test func messageWithoutItsEndIsIncomplete() throws {
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 40001)
        c.open(&b)
        c.server(&b, Array("220 mx ESMTP\r\n".utf8))
        for (cmd, reply) in [("HELO ws\r\n", "250 mx\r\n"), ("MAIL FROM:<a@example.net>\r\n", "250 ok\r\n"), ("RCPT TO:<b@example.org>\r\n", "250 ok\r\n"), ("DATA\r\n", "354 go\r\n")] {
            c.client(&b, Array(cmd.utf8))
            c.server(&b, Array(reply.utf8))
        }
        c.client(&b, Array("Subject: cut\r\n\r\nthe first line\r\n..and a stuffed one\r\n".utf8))
        c.close(&b)
        let capture = Self.tempDir().appendingPathExtension("pcap")
        _ = FileManager.default.createFile(atPath: capture.path, contents: Data(b.data))
        let dir = Self.tempDir()
        defer {
            try? FileManager.default.removeItem(at: capture)
            try? FileManager.default.removeItem(at: dir)
        }
        let r = try runCLI(["read", "--export-dir", dir.path, capture.path])
        #expect(r.status == 0)
        let eml = try #require(Self.files(dir, "eml").first)
        #expect(eml.lastPathComponent.hasSuffix("-s1-t1-incomplete.eml"))
        #expect(try String(contentsOf: eml, encoding: .utf8) == "Subject: cut\r\n\r\nthe first line\r\n.and a stuffed one\r\n")
        let json = try #require(loadJSON(eml.deletingPathExtension().appendingPathExtension("json")))
        #expect(json["message_complete"] as? Bool == false)
        #expect((json["gaps"] as? [Any])?.isEmpty == true)
    }

    @Test func unwritableDirectoryIsOneLine() throws {
        // A path under a regular file cannot be a directory, even for root (CI runs as root).
        let file = Self.tempDir()
        _ = FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try runCLI(["read", "--export-dir", file.appendingPathComponent("out").path, "Captures/plain-delivery.pcap"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("smtpscope: cannot create the export directory \(file.path)/out: "))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stdout.contains("session 1"), "the report is still written")
    }

    @Test func exportAttachmentsNeedsExportDir() throws {
        let r = try runCLI(["read", "--export-attachments", "Captures/plain-delivery.pcap"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("--export-attachments needs --export-dir"))
    }

    // MARK: - The records

    /// Without the options the output is as before: no `attachments` key, no bodies held.
    @Test func nothingKeptWithoutTheOptions() throws {
        let r = try runCLI(["read", "--format", "json", "Captures/large-message-impaired.pcap"])
        #expect(!r.stdout.contains("\"attachments\""))
        let (collector, _) = analyze([capturesDir.appendingPathComponent("large-message-impaired.pcap").path])
        let t = try #require(collector.transactions.first?.0)
        #expect(t.body == nil)
        #expect(t.parts == nil)
        #expect(t.size == 1_984_802)
    }

    /// `--attachments` lists the parts (hashed as they stream past, no body kept) in the JSON
    /// record and one line per named part in the text timeline.
    @Test func attachmentsInTheRecords() throws {
        let r = try runCLI(["read", "--format", "json", "--attachments", "Captures/large-message-impaired.pcap"])
        let line = try #require(r.stdout.split(separator: "\n").first { $0.contains("\"type\":\"transaction\"") })
        let t = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let parts = try #require(t["attachments"] as? [[String: Any]])
        #expect(parts.map { $0["content_type"] as? String } == ["text/plain", "application/octet-stream"])
        #expect(parts[1]["filename"] as? String == "data.bin")
        #expect(parts[1]["disposition"] as? String == "attachment")
        #expect(parts[1]["size"] as? Int == 1_450_000)
        #expect((parts[1]["sha256"] as? String)?.count == 64)
        #expect(parts[1]["file"] == nil)
        let text = try runCLI(["read", "--attachments", "Captures/large-message-impaired.pcap"])
        #expect(text.stdout.contains("📎 \"data.bin\"  application/octet-stream  1.5 MB  sha256 " + (parts[1]["sha256"] as? String ?? "").prefix(16) + "…"))
        var options = AnalyzerOptions()
        options.decoder.scanParts = true
        let (collector, _) = analyze([capturesDir.appendingPathComponent("large-message-impaired.pcap").path], options: options)
        let txn = try #require(collector.transactions.first?.0)
        #expect(txn.body == nil, "hashing parts holds no message")
        #expect(txn.parts?.allSatisfy { $0.data == nil } == true)
    }
}
