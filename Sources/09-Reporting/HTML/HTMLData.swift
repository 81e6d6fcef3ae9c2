import Correlation
import Findings
import SMTP
import Vocabulary
import Sessions

/// A line of a mail server's own log that belongs to a session (put there by a join of the server's
/// log with the capture). The page shows these beside the session's timeline.
public struct ServerLogLine: Sendable {
    /// When the server logged it.
    public var time: Timestamp
    /// The log line as written (host, program, queue id, text).
    public var text: String
    public init(time: Timestamp, text: String) {
        self.time = time
        self.text = text
    }
}

/// The data block of the HTML report: one compact JSON object per session, intercept and pair of
/// copies, read by the page's script, which renders them when they are opened or scrolled to. Not
/// an interface for other programs (that is `--format json`): keys are short because a page of
/// 10 000 sessions carries them all.
///
/// Every string from the capture is made printable as in the text output (`Printable`) before it
/// is written; the whole block is then escaped for its `<script>` element (`HTMLEscape.scriptJSON`).
enum HTMLData {
    /// A session: see the `sessions` entries read by `HTMLTemplate.script`.
    static func session(_ s: Session, _ txns: [Transaction], _ findings: [Finding], captureName: String?, log: [ServerLogLine], into w: inout JSONWriter) {
        w.beginObject()
        w.key("id"); w.int(s.id)
        if let captureName { w.key("cap"); w.string(Printable.escape(captureName)) }
        w.key("c"); w.string(s.client.description)
        w.key("s"); w.string(s.server.description)
        w.key("t"); seconds(s.start, &w)
        w.key("d"); w.double(max(0, s.end.seconds(since: s.start)), decimals: 3)
        if let helo = s.helo {
            w.key("helo"); w.string((s.heloVerb?.name ?? "HELO") + " " + (helo.isEmpty ? "(no name)" : Printable.escape(helo)))
        } else if let r = s.heloRefused.last {
            w.key("helo"); w.string("HELO/EHLO " + (r.name.isEmpty ? "(no name)" : Printable.escape(r.name)) + " refused (\(r.code))")
        }
        var notes: [String] = []
        if !s.rolesFromHandshake { notes.append("capture starts mid-connection: client and server inferred") }
        if let p = s.proxy { notes.append("through \(SessionText.proxyName(p.kind)) proxy \(s.server) to " + Printable.escape(p.target) + (p.authenticated ? ", authenticated" : "")) }
        if let c = s.combinedFrom { notes.append("sessions " + c.map(String.init).joined(separator: " + ") + " put together: both captures") }
        if !notes.isEmpty {
            w.key("notes"); w.beginArray(); for n in notes { w.string(n) }; w.endArray()
        }
        var close = (s.quitSent && s.close != .quit ? "QUIT sent, no 221 seen; " : "") + SessionText.closeWords(s.close)
        close += " · \(s.transactions) transaction\(s.transactions == 1 ? "" : "s")"
        if s.starttls != .none { close += " · STARTTLS \(s.starttls.rawValue)" }
        if let a = s.auth { close += " · AUTH \(Printable.escape(a.mechanism)) \(a.result.rawValue)" + (a.user.map { " (user " + Printable.escape($0) + ")" } ?? "") }
        if s.gaps[0] + s.gaps[1] > 0 { close += " · \(s.gaps[0] + s.gaps[1]) gap(s), \(s.gapBytes[0] + s.gapBytes[1]) bytes missing" }
        w.key("end"); w.string(close)
        let anomalies = Array(Set(s.anomalies.map(\.name))).sorted().map(\.rawValue)
        if !anomalies.isEmpty {
            w.key("an"); w.beginArray(); for a in anomalies { w.string(a) }; w.endArray()
        }
        // Addresses the filter matches besides the endpoints: envelope and HELO.
        var addresses: [String] = []
        for t in txns {
            if let f = t.mailFrom { addresses.append(f) }
            addresses += t.rcptSent
            addresses += t.rcptTo.filter { !t.rcptSent.contains($0) }
        }
        var seen = Set<String>()
        addresses = addresses.filter { seen.insert($0).inserted }
        if !addresses.isEmpty {
            w.key("a"); w.beginArray(); for a in addresses { w.string(Printable.escape(a)) }; w.endArray()
        }
        w.key("x")
        w.beginArray()
        let text = SessionText(color: false)
        for t in txns {
            w.beginObject()
            w.key("i"); w.int(t.index)
            w.key("o"); w.string(t.outcome.rawValue)
            w.key("t"); w.double(max(0, t.start.seconds(since: s.start)), decimals: 3)
            w.key("w"); w.string(text.outcomeWords(t))
            w.endObject()
        }
        w.endArray()
        // Timeline: [offset ms, side, kind, text, transaction, reply code, latency ms, decrypted].
        var commandTimes: [Int: Timestamp] = [:]
        for e in s.timeline { if case .command(let i, _, _) = e.kind { commandTimes[i] = e.time } }
        let txnByIndex = Dictionary(txns.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        w.key("l")
        w.beginArray()
        for e in s.timeline {
            w.beginArray()
            w.double(e.time.seconds(since: s.start) * 1000, decimals: 3)
            w.plainString(e.side == .client ? "C" : "S")
            var code = 0
            var latency: Double?
            switch e.kind {
            case .command: w.plainString("c"); w.string(Printable.escape(e.line))
            case .reply(let c, let answering):
                code = c
                if let a = answering, let t = commandTimes[a] { latency = e.time.seconds(since: t) }
                w.plainString("r"); w.string(Printable.escape(e.line))
            case .message: w.plainString("m"); w.string(messageSummary(txnByIndex[e.transaction ?? -1]))
            case .tls: w.plainString("t"); w.string(Printable.escape(e.line))
            case .gap: w.plainString("g"); w.string(Printable.escape(e.line))
            case .note: w.plainString("n"); w.string(Printable.escape(e.line))
            }
            w.int(e.transaction ?? 0)
            w.int(code)
            if let latency { w.string(SessionText.latency(max(0, latency))) } else { w.int(0) }
            w.int(e.decrypted ? 1 : 0)
            w.endArray()
        }
        w.endArray()
        if s.timelineDropped > 0 { w.key("dropped"); w.int(s.timelineDropped) }
        w.key("f"); self.findings(findings, &w)
        if !log.isEmpty {
            w.key("g")
            w.beginArray()
            for line in log {
                w.beginArray()
                w.double(line.time.seconds(since: s.start) * 1000, decimals: 3)
                w.string(Printable.escape(line.text))
                w.endArray()
            }
            w.endArray()
        }
        w.endObject()
    }

    /// Findings: [id, severity, sentence, timeline position or -1, transaction or 0, reference].
    static func findings(_ list: [Finding], _ w: inout JSONWriter) {
        w.beginArray()
        for f in list.sorted(by: { ($1.severity, $0.time ?? .zero) < ($0.severity, $1.time ?? .zero) }) {
            w.beginArray()
            w.string(f.id.rawValue)
            w.string(f.severity.word)
            w.string(Printable.escape(f.message))
            w.int(f.timelineIndex ?? -1)
            w.int(f.transaction ?? 0)
            w.string(f.reference)
            w.endArray()
        }
        w.endArray()
    }

    /// An intercepted connection and its ladder: every action as
    /// [kind, leg, offset s (client clock), line, counterpart, delay, note, reply, message].
    static func intercept(_ x: Intercept, _ findings: [Finding], into w: inout JSONWriter) {
        w.beginObject()
        w.key("cl"); w.int(x.clientLeg)
        w.key("sl"); w.beginArray(); for s in x.serverLegs { w.int(s) }; w.endArray()
        w.key("ce"); w.string("\(x.clientEndpoints.client) → \(x.clientEndpoints.server)")
        w.key("se"); w.beginArray(); for e in x.serverEndpoints { w.string("\(e.client) → \(e.server)") }; w.endArray()
        w.key("t"); seconds(x.start, &w)
        var clock = x.clock.sameClock ? "one capture, one clock" : "clock offset \(SessionText.fixed(x.clock.seconds, 4)) s ± \(SessionText.fixed(x.clock.uncertainty, 4)) s (server-leg capture minus client-leg capture)"
        if let d = x.clock.driftPPM { clock += ", drifting \(SessionText.fixed(d, 1)) ppm" }
        w.key("clock"); w.string(clock)
        w.key("score"); w.int(x.score)
        w.key("vk"); w.string(x.verdict.kind.rawValue)
        w.key("v"); w.string(Printable.escape(x.verdict.description))
        w.key("ev"); w.beginArray(); for e in x.evidence { w.string(Printable.escape(e)) }; w.endArray()
        w.key("f"); self.findings(findings, &w)
        w.key("a")
        w.beginArray()
        for a in x.actions {
            w.beginArray()
            w.string(a.kind.rawValue)
            w.plainString(a.leg == .client ? "C" : "S")
            w.double(a.clientClockTime.seconds(since: x.start), decimals: 6)
            w.string(Printable.escape(a.line))
            if let c = a.counterpart { w.string(Printable.escape(c)) } else { w.null() }
            if let d = a.delay { w.double(d) } else { w.null() }
            w.string(a.note.map { Printable.escape($0) })
            w.int(a.isReply ? 1 : 0)
            w.int(a.isMessage ? 1 : 0)
            w.endArray()
        }
        w.endArray()
        w.endObject()
    }

    /// One connection captured at two points.
    static func sameConnection(_ x: SameConnection, _ f: Finding, combined: Int?, captureNames: [String], into w: inout JSONWriter) {
        func name(_ v: Vantage) -> String { captureNames.indices.contains(v.file) ? Printable.escape(captureNames[v.file]) : "?" }
        w.beginObject()
        w.key("nc"); w.int(x.nearClient)
        w.key("ns"); w.int(x.nearServer)
        w.key("ncd"); w.string("\(name(x.nearClientCapture)): \(x.nearClientEndpoints.client) → \(x.nearClientEndpoints.server)")
        w.key("nsd"); w.string("\(name(x.nearServerCapture)): \(x.nearServerEndpoints.client) → \(x.nearServerEndpoints.server)")
        w.key("clock"); w.string(x.clock.sameClock ? "one capture, one clock" : "clock offset \(SessionText.fixed(x.clock.seconds, 4)) s ± \(SessionText.fixed(x.clock.uncertainty, 4)) s")
        w.key("v"); w.string(Printable.escape(x.verdict))
        w.key("ev"); w.beginArray(); for e in x.evidence { w.string(Printable.escape(e)) }; w.endArray()
        w.key("combined"); w.int(combined)
        w.key("f"); findings([f], &w)
        w.endObject()
    }

    /// `336 B  "Subject"  <message-id>` for a message line.
    static func messageSummary(_ t: Transaction?) -> String {
        var parts = ["▸ " + SessionText.size(t?.size ?? 0)]
        if t?.chunked == true { parts.append("(BDAT)") }
        if let subject = t?.headers?.subject { parts.append("\"" + Printable.escape(subject) + "\"") }
        if let id = t?.headers?.messageID { parts.append(Printable.escape(id)) }
        if t?.messageComplete == false { parts.append("incomplete") }
        return parts.joined(separator: "  ")
    }

    /// Seconds since the epoch, to the microsecond.
    static func seconds(_ t: Timestamp, _ w: inout JSONWriter) {
        w.double(Double(t.nanoseconds / 1000) / 1e6, decimals: 6)
    }
}
