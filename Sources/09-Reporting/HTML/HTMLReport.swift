import Crypto
import Findings
import Vocabulary
import Sessions

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The HTML report (`read --html FILE`): one self-contained page (no network, no external
/// scripts or fonts) with the summary and findings first, the intercepted connections as ladder
/// diagrams, a chart of the sessions over the capture, and the session list with its filter.
///
/// The summary and findings are written as HTML here; everything else travels as one JSON block
/// that the page's script renders lazily (sessions when opened or scrolled to), so a page of
/// 10 000 sessions opens in seconds. The block is built as the records arrive and the file is
/// written at `finish()`, when the summary that heads it is known.
public final class HTMLReport: ReportSink {
    private let path: String
    private let captureNames: [String]
    /// Server log lines of a session, from a join of the mail server's log with the capture; the
    /// page shows them in the session's timeline. Nil: no log was given.
    public var serverLog: ((Session) -> [ServerLogLine])?

    private var sessions = JSONWriter()
    private var intercepts = JSONWriter()
    private var same = JSONWriter()
    private var notes: [Finding] = []
    private var summary: RunSummary?
    private var packets = 0
    private var rendered: [UInt8]?

    public init(path: String, captureNames: [String]) {
        self.path = path
        self.captureNames = captureNames
        sessions.beginArray()
        intercepts.beginArray()
        same.beginArray()
    }

    public func write(_ record: ReportRecord) {
        switch record {
        case .transaction:
            // Live capture's early transactions: the session record that follows carries them.
            break
        case .session(let s, let txns, let findings):
            session(s, txns, findings)
        case .sameConnection(let x, let f, let combined):
            if let (s, txns, findings) = combined { session(s, txns, findings) }
            HTMLData.sameConnection(x, f, combined: combined?.0.id, captureNames: captureNames, into: &same)
        case .intercept(let x, let findings):
            HTMLData.intercept(x, findings, into: &intercepts)
        case .note(let f):
            notes.append(f)
        case .summary(let s, let packets):
            summary = s
            self.packets = packets
        }
    }

    private func session(_ s: Session, _ txns: [Transaction], _ findings: [Finding]) {
        var name: String? = captureNames.count > 1 && captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : nil
        if s.combinedFrom != nil { name = "both captures" }
        HTMLData.session(s, txns, findings, captureName: name, log: serverLog?(s) ?? [], into: &sessions)
    }

    public func finish() -> [String] {
        let page = render()
        guard let f = fopen(path, "wb") else { return ["cannot write the HTML report \(path): \(String(cString: strerror(errno)))"] }
        let written = page.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        if written != page.count || closed != 0 { return ["cannot write the HTML report \(path): \(String(cString: strerror(errno)))"] }
        return []
    }

    /// The whole page (built once: the records' arrays are closed here).
    public func render() -> [UInt8] {
        if let page = rendered { return page }
        sessions.endArray()
        intercepts.endArray()
        same.endArray()
        var data = JSONWriter()
        data.beginObject()
        data.key("v"); data.int(1)
        data.key("files"); data.beginArray(); for n in captureNames { data.string(Printable.escape(n)) }; data.endArray()
        data.key("notes"); HTMLData.findings(notes, &data)
        data.key("log"); data.bool(serverLog != nil)
        data.endObject()
        // The three arrays are spliced into the object's text: {"v":1,…,"sessions":[…],…}.
        var block: [UInt8] = []
        data.withBytes { head in
            HTMLEscape.scriptJSON(UnsafeRawBufferPointer(rebasing: head[..<(head.count - 1)]), into: &block)
        }
        for (key, w) in [("sessions", sessions), ("intercepts", intercepts), ("same", same)] {
            block += Array(",\"\(key)\":".utf8)
            w.withBytes { HTMLEscape.scriptJSON($0, into: &block) }
        }
        block.append(UInt8(ascii: "}"))

        let script = HTMLTemplate.script, style = HTMLTemplate.style
        var out: [UInt8] = []
        out.reserveCapacity(block.count + 64 * 1024)
        out += Array(HTMLTemplate.head(title: title, csp: Self.csp(script: script, style: style), style: style).utf8)
        out += Array(HTMLTemplate.body(header: header, summary: summaryHTML(), findings: findingsHTML()).utf8)
        out += Array("<script type=\"application/json\" id=\"data\">".utf8)
        out += block
        out += Array("</script>\n<script>".utf8)
        out += Array(script.utf8)
        out += Array("</script>\n</body>\n</html>\n".utf8)
        rendered = out
        return out
    }

    /// Allows nothing but the page's own style and script, named by their SHA-256; the data block
    /// is not a script (its type is JSON) and needs no permission. Images only as data: URLs.
    static func csp(script: String, style: String) -> String {
        func hash(_ s: String) -> String { "'sha256-" + Base64.encode(Array(SHA256.hash(data: Array(s.utf8)))) + "'" }
        return "default-src 'none'; script-src \(hash(script)); style-src \(hash(style)); img-src data:; base-uri 'none'; form-action 'none'"
    }

    private var title: String {
        "smtpscope report — " + HTMLEscape.text(captureNames.map { Printable.escape($0) }.joined(separator: ", "))
    }

    private var header: String {
        let files = captureNames.map { "<code>" + HTMLEscape.text(Printable.escape($0)) + "</code>" }.joined(separator: " + ")
        return "<h1>smtpscope report</h1><p class=\"meta\">" + files + " · \(packets) packet\(packets == 1 ? "" : "s") read</p>"
    }

    private func summaryHTML() -> String {
        guard let s = summary else { return "<p>No summary: the run did not finish.</p>" }
        let order: [Outcome] = [.queued, .rejected, .reset, .abandoned, .incomplete]
        var html = "<p class=\"counts\"><b>\(s.sessions)</b> SMTP session\(s.sessions == 1 ? "" : "s") · <b>\(s.transactions)</b> transaction\(s.transactions == 1 ? "" : "s")"
        let parts = order.compactMap { o in s.outcomes[o].map { "<a class=\"chip o-\(o.rawValue)\" href=\"#outcome=\(o.rawValue)\">\($0) \(o.rawValue)</a>" } }
        if !parts.isEmpty { html += " " + parts.joined(separator: " ") }
        if s.intercepts > 0 { html += " · <a href=\"#intercepts\"><b>\(s.intercepts)</b> intercepted connection\(s.intercepts == 1 ? "" : "s")</a>" }
        if s.connectionsSeenTwice > 0 { html += " · \(s.connectionsSeenTwice) connection\(s.connectionsSeenTwice == 1 ? "" : "s") seen at two capture points" }
        return html + "</p>"
    }

    private func findingsHTML() -> String {
        guard let s = summary, !s.findings.isEmpty else { return "<p class=\"none\">No findings.</p>" }
        let list = s.findings.sorted {
            ($1.value.first.severity.rawValue, $1.value.count, $0.key) < ($0.value.first.severity.rawValue, $0.value.count, $1.key)
        }
        var html = "<table class=\"findings\"><thead><tr><th>severity</th><th>finding</th><th>count</th><th>first seen</th></tr></thead><tbody>"
        for (id, v) in list {
            let f = v.first
            let idText = HTMLEscape.text(id)
            html += "<tr class=\"sev-\(f.severity.word)\"><td><span class=\"sev\">\(f.severity.word)</span></td>"
            html += "<td><a class=\"fid\" href=\"#finding=\(idText)\" title=\"show the sessions with this finding\">\(idText)</a></td><td class=\"num\">\(v.count)</td>"
            html += "<td><a href=\"#session=\(f.session)\">session \(f.session)</a>: " + HTMLEscape.text(Printable.escape(f.message))
            html += " <span class=\"ref\">[" + HTMLEscape.text(f.reference) + "]</span></td></tr>"
        }
        html += "</tbody></table><p class=\"hint\">explain any finding: <code>smtpscope explain &lt;id&gt;</code></p>"
        return html
    }
}
