import Foundation
import Testing

/// Headless Chromium (the `chromium` package) as root needs --no-sandbox. Each run gets its own
/// profile directory, so runs do not share state.
func chromiumBinary() -> String? {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Loads `page` (with `fragment`, e.g. `finding=fast-reply`) in headless Chromium and returns the
/// DOM after the page's script ran, and the page's console messages (CSP violations and uncaught
/// errors are logged there as `INFO:CONSOLE` lines).
func renderInChromium(_ page: URL, fragment: String = "") throws -> (dom: String, console: [String]) {
    let chromium = try #require(chromiumBinary(), "headless Chromium is needed: apt-get install -y chromium")
    let profile = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-chromium-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: profile) }
    let p = Process()
    // timeout stops a wedged browser.
    p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    p.arguments = ["120", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
                   "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
                   page.absoluteString + (fragment.isEmpty ? "" : "#" + fragment)]
    let out = Pipe(), err = Pipe()
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = out
    p.standardError = err
    try p.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let box = Box()
    let handle = err.fileHandleForReading
    let reader = Thread { box.data = handle.readDataToEndOfFile() }
    reader.start()
    // Read while it runs: a page larger than the pipe's buffer would otherwise stop the browser.
    let dom = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    let console = String(decoding: box.data, as: UTF8.self).split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init)
    return (String(decoding: dom, as: UTF8.self), console)
}

/// The HTML report in a real browser: the page's script runs under its own Content-Security-Policy
/// with no console message, the ladder of the store-and-forward capture is drawn with its arrows and
/// labels, the filter set from the URL fragment shows only matching sessions, and hostile text from
/// the wire stays text.
@Suite(.serialized) final class HTMLReportBrowserTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-html-\(UUID().uuidString)")
    deinit { try? FileManager.default.removeItem(at: dir) }

    func report(_ captures: [String], name: String) throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let page = dir.appendingPathComponent(name)
        let r = try runCLI(["read", "--format", "json"] + captures + ["--html", page.path])
        #expect(r.status == 0, "\(r.stderr)")
        return page
    }

    /// What every page must show once loaded: the script ran, nothing went wrong.
    func loaded(_ page: URL, fragment: String = "") throws -> String {
        let (dom, console) = try renderInChromium(page, fragment: fragment)
        #expect(dom.contains("data-ready=\"1\""), "the page's script did not finish")
        #expect(dom.contains("<pre id=\"errors\" hidden=\"\"></pre>"), "the page reported errors")
        #expect(console.isEmpty, "console: \(console)")
        return dom
    }

    /// The `<details>` rows of the session list, by session id.
    func listedSessions(_ dom: String) -> [Int] {
        dom.components(separatedBy: "data-session=\"").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test func storeAndForwardLadder() throws {
        let page = try report([capturesDir.appendingPathComponent("middlebox-store-and-forward-both-legs.pcapng").path], name: "sf.html")
        let dom = try loaded(page)
        // One arrow per line of the text ladder, plus the moment the held message was passed on.
        #expect(count("data-kind=\"relayed\"", in: dom) == 7)
        #expect(count("data-kind=\"withheld\"", in: dom) == 2)  // DATA and QUIT
        #expect(count("data-kind=\"synthesized\"", in: dom) == 3)  // 354, 250, 221
        #expect(count("data-kind=\"held\"", in: dom) == 1)
        #expect(count("data-kind=\"released\"", in: dom) == 1)
        #expect(count("data-kind=\"injected\"", in: dom) == 8)  // 2 RSET, 2 NOOP, the replay
        for label in ["relayed 20.7 ms", "✱ synthesized", "✚ injected", "↻ replayed", "withheld: never reached the server",
                      "held 4.09 s before passing it on", "passed on 4.09 s later", "client leg · session 1", "server leg · session 2", "⋮ 1.030 s later"] {
            #expect(dom.contains(label), "ladder label \(label)")
        }
        #expect(dom.contains("store-and-forward scanner: answered DATA itself, held the message 4.09 s"))
        // The findings first, linked to the filter.
        #expect(dom.contains("href=\"#finding=intercepted-store-and-forward\""))
        #expect(dom.range(of: "id=\"findings\"")!.lowerBound < dom.range(of: "id=\"intercepts\"")!.lowerBound)
        #expect(listedSessions(dom) == [1, 2])
        #expect(dom.contains("class=\"chart\""))
    }

    @Test func filterFromTheFragment() throws {
        let page = try report([capturesDir.appendingPathComponent("middlebox-store-and-forward-both-legs.pcapng").path], name: "sf.html")
        let replayed = try loaded(page, fragment: "finding=transaction-replayed")
        #expect(listedSessions(replayed) == [2])
        #expect(replayed.contains("1 of 2 sessions"))
        #expect(listedSessions(try loaded(page, fragment: "finding=fast-reply")) == [1])
        // An intercept's finding belongs to both its legs.
        #expect(listedSessions(try loaded(page, fragment: "finding=intercepted-store-and-forward")) == [1, 2])
        #expect(listedSessions(try loaded(page, fragment: "outcome=reset")) == [2])
        #expect(listedSessions(try loaded(page, fragment: "q=33083")) == [2])
        #expect(listedSessions(try loaded(page, fragment: "q=nobody%40example.org")) == [])
        let one = try loaded(page, fragment: "outcome=queued&q=bob%40example.org")
        #expect(listedSessions(one) == [1, 2])
        #expect(one.contains("all 2 sessions"))
        // A session opened from a link: its timeline is drawn, transaction framed and closed.
        let s2 = try loaded(page, fragment: "session=2")
        #expect(listedSessions(s2) == [2])
        #expect(s2.contains("class=\"tl\""))
        #expect(s2.contains("transaction 2"))
        #expect(s2.contains("└ queued as C46BC11A06A — 1 recipient, 336 B"))
        #expect(s2.contains("a leg of intercepted connection 1"))
        // One connection alone, to print or send on.
        let solo = try loaded(page, fragment: "ladder=1")
        #expect(solo.contains("<body class=\"solo\"") && solo.contains("class=\"intercept solo-target\""))
    }

    /// Every intercepted or twice-captured connection among the captures: the page loads cleanly
    /// and draws one arrow per action of the JSON intercept records (and one more per held
    /// message, where it was passed on), with the verdict.
    @Test(arguments: [
        ["middlebox-divergent-both-legs.pcapng"], ["middlebox-gives-up-both-legs.pcapng"], ["middlebox-gives-up-new-port-both-legs.pcapng"],
        ["middlebox-inline-rewriter-both-legs.pcapng"], ["middlebox-plain-relay-both-legs.pcapng"], ["middlebox-reconnect-both-legs.pcapng"],
        ["middlebox-starttls-answered-both-legs.pcapng"], ["tls-intercepting-shield-both-legs.pcapng"],
        ["middlebox-store-and-forward-client-leg.pcap", "middlebox-store-and-forward-server-leg.pcap"],
        ["double-capture-workstation.pcap", "double-capture-mailserver.pcap"],
    ])
    func everyLadder(_ names: [String]) throws {
        let paths = names.map { capturesDir.appendingPathComponent($0).path }
        let json = try runCLI(["read", "--format", "json"] + paths)
        var actions = 0, held = 0, verdicts: [String] = []
        for line in json.stdout.split(separator: "\n") {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard record["type"] as? String == "intercept" || record["type"] as? String == "same_connection" else { continue }
            verdicts.append(try #require(record["verdict"] as? String))
            let list = record["actions"] as? [[String: Any]] ?? []
            actions += list.count
            held += list.filter { $0["kind"] as? String == "held" && !($0["delay"] is NSNull) }.count
        }
        #expect(!verdicts.isEmpty)
        let dom = try loaded(try report(paths, name: "ladder.html"))
        #expect(count("data-kind=\"", in: dom) == actions + held)
        #expect(count("data-kind=\"released\"", in: dom) == held)
        for v in verdicts {
            #expect(dom.contains(v.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")), "verdict \(v)")
        }
    }

    /// A page that cannot be written is an error (exit 1, one line on stderr), after the usual output.
    @Test func unwritablePage() throws {
        let r = try runCLI(["read", capturesDir.appendingPathComponent("plain-delivery.pcap").path, "--html", "/nonexistent-dir/report.html"])
        #expect(r.status == 1)
        #expect(r.stderr == "smtpscope: cannot write the HTML report /nonexistent-dir/report.html: No such file or directory\n")
        #expect(r.stdout.contains("1 SMTP session"))
    }

    @Test func plainSession() throws {
        let page = try report([capturesDir.appendingPathComponent("plain-delivery.pcap").path], name: "plain.html")
        let dom = try loaded(page, fragment: "session=1")
        #expect(listedSessions(dom) == [1])
        #expect(dom.contains("<section id=\"intercepts\" hidden=\"\">"))
        #expect(dom.contains("class=\"tl\""))
        #expect(dom.contains("└ queued"))
        #expect(!dom.contains("data-kind="))
    }

    /// Text from the wire that tries to end the data block, open a tag or run script, quotes,
    /// `]]>`, U+2028 and invalid UTF-8, in the banner, EHLO, envelope, Subject and replies; and a
    /// capture file named with markup. It stays text; AUTH credentials stay redacted.
    @Test func hostileCapture() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var b = PcapBuilder()
        var c = ScriptedConnection(clientPort: 41000)
        func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
        c.open(&b)
        c.server(&b, bytes("220 mx.example.org <script>document.title='pwned'</script> ESMTP\r\n"))
        c.client(&b, bytes("EHLO <script>document.title='pwned'</script>\"'&amp;\r\n"))
        c.server(&b, bytes("250-mx.example.org ]]> <!-- \u{2028}\r\n250 AUTH PLAIN\r\n"))
        c.client(&b, bytes("AUTH PLAIN AGFsaWNlAHMzY3JldC1wYXNzd29yZA==\r\n"))
        c.server(&b, bytes("235 2.7.0 Authentication successful\r\n"))
        c.client(&b, bytes("MAIL FROM:<\"<img src=x onerror=document.title=1>\"@example.net>\r\n"))
        c.server(&b, bytes("250 ok </script><script>document.title='pwned'</script>\r\n"))
        c.client(&b, bytes("RCPT TO:<bob@example.org>\r\n"))
        c.server(&b, bytes("250 ok ") + [0xff, 0xfe, 0xc0] + bytes("\r\n"))
        c.client(&b, bytes("DATA\r\n"))
        c.server(&b, bytes("354 go\r\n"))
        c.client(&b, bytes("Subject: </script><script>document.title='pwned'</script> ]]> \u{2028} \"q\" 'q' ") + [0xff, 0xfe, 0xc0, 0x20]
                 + bytes("\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n.\r\n"))
        c.server(&b, bytes("250 2.0.0 Ok: queued as <b>Q1</b>\r\n"))
        c.client(&b, bytes("QUIT\r\n"))
        c.server(&b, bytes("221 bye\r\n"))
        c.close(&b)
        let capture = dir.appendingPathComponent("hostile-<i>-'q'.pcap")
        try Data(b.data).write(to: capture)
        let page = try report([capture.path], name: "hostile.html")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(count("<script", in: html) == 2)  // the data block and the page's script
        #expect(count("</script>", in: html) == 2)
        #expect(!html.contains("<i>") && !html.contains("<b>Q1") && !html.contains("<img"))
        #expect(!html.contains("AGFsaWNlAHMzY3JldC1wYXNzd29yZA") && !html.contains("s3cret"))
        let dom = try loaded(page, fragment: "session=1")
        #expect(!dom.contains("<title>pwned") && dom.contains("<title>smtpscope report"))
        #expect(!dom.contains("<img") && !dom.contains("<b>Q1"))
        // Shown as text, escaped by the DOM serialiser.
        #expect(dom.contains("EHLO &lt;script&gt;document.title='pwned'&lt;/script&gt;\"'&amp;amp;"))
        #expect(dom.contains("&lt;/script&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt; ]]&gt;"))
        #expect(dom.contains("250 ok \\xff\\xfe\\xc0"))  // invalid UTF-8 on the wire, shown as in the text output
        #expect(dom.contains("&lt;/script&gt;&lt;script&gt;document.title='pwned'&lt;/script&gt; ]]&gt; "))  // the Subject
        #expect(dom.contains("queued as &lt;b&gt;Q1&lt;/b&gt;"))
        #expect(dom.contains("AUTH PLAIN ‹redacted›"))
        #expect(dom.contains("hostile-&lt;i&gt;-'q'.pcap"))
    }
}
