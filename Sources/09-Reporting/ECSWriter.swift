import Correlation
import Findings
import SMTP
import Sessions
import Vocabulary

/// Writes Elastic Common Schema documents, one JSON object per line (`--format ecs`): one per
/// transaction and one per finding, in ECS's nested objects and field types, ready for Filebeat or
/// Vector. What ECS has no field for is under `smtpscope`. See docs/output.md, "ECS documents".
public final class ECSWriter: ReportSink {
    /// The ECS version the documents follow (`ecs.version`).
    public static let ecsVersion = "8.17.0"

    private let out: OutputBuffer
    private let captureNames: [String]
    private var w = JSONWriter()
    /// Live capture: transactions arrive on their own as they finish; the session record then
    /// adds only its findings.
    private let streaming: Bool

    public init(out: OutputBuffer, captureNames: [String], streaming: Bool = false) {
        self.out = out
        self.captureNames = captureNames
        self.streaming = streaming
    }

    public func write(_ record: ReportRecord) {
        w.reset()
        switch record {
        case .transaction(let t, let s):
            transaction(t, s)
        case .session(let s, let txns, let findings):
            if !streaming { for t in txns { transaction(t, s) } }
            for f in findings { finding(f, s) }
        case .sameConnection(_, let f, let combined):
            if let (s, txns, findings) = combined {
                for t in txns { transaction(t, s) }
                for f in findings { finding(f, s) }
            }
            finding(f, nil)
        case .intercept(_, let findings):
            for f in findings { finding(f, nil) }
        case .note(let f):
            finding(f, nil)
        case .summary:
            break
        }
        w.withBytes { out.write($0) }
    }

    private func transaction(_ t: Transaction, _ s: Session) {
        w.beginObject()
        w.key("@timestamp"); w.timestamp(t.start)
        ecs()
        w.key("event")
        w.beginObject()
        w.key("kind"); w.plainString("event")
        w.key("category"); w.beginArray(); w.plainString("email"); w.plainString("network"); w.endArray()
        w.key("type"); w.beginArray(); w.plainString("info"); w.plainString("protocol"); w.endArray()
        w.key("dataset"); w.plainString("smtpscope.transaction")
        w.key("module"); w.plainString("smtpscope")
        w.key("outcome")
        switch t.outcome {
        case .queued: w.plainString("success")
        case .rejected: w.plainString("failure")
        case .reset, .abandoned, .incomplete: w.plainString("unknown")
        }
        w.key("start"); w.timestamp(t.start)
        w.key("end"); w.timestamp(t.end)
        w.key("duration"); w.int(Int(t.end.nanoseconds - t.start.nanoseconds))
        w.endObject()
        endpoints(s)
        w.key("email")
        w.beginObject()
        if let h = t.headers {
            addresses("from", h.from)
            addresses("to", h.to)
            addresses("cc", h.cc)
            if let v = h.subject { w.key("subject"); w.stringBytes(Array(v.utf8)) }
            if let v = h.messageID { w.key("message_id"); w.stringBytes(Array(v.utf8)) }
        }
        w.key("direction"); w.plainString("unknown")
        if let m = t.mailFrom, !m.isEmpty {
            w.key("sender"); w.beginObject(); w.key("address"); w.stringBytes(Array(m.utf8)); w.endObject()
        }
        if let q = t.queueID { w.key("local_id"); w.stringBytes(Array(q.utf8)) }
        if t.outcome == .queued, let r = t.reply { w.key("delivery_timestamp"); w.timestamp(r.time) }
        w.endObject()
        if t.tls, let f = s.tls { tls(f) }
        w.key("smtpscope")
        w.beginObject()
        w.key("session"); w.int(t.session)
        w.key("transaction"); w.int(t.index)
        w.key("capture"); w.string(captureName(s))
        w.key("outcome"); w.string(t.outcome.rawValue)
        if let h = t.helo { w.key("helo"); w.stringBytes(Array(h.utf8)) }
        if let m = t.mailFrom { w.key("mail_from"); w.stringBytes(Array(m.utf8)) }
        JSONRecords.recipients(t, &w)
        if let r = t.reply {
            w.key("reply")
            w.beginObject()
            w.key("code"); w.int(r.code)
            if let e = r.enhanced { w.key("enhanced"); w.string(e) }
            w.key("text"); w.stringBytes(Array(r.text.utf8))
            w.endObject()
        }
        if let cause = t.resetBy { w.key("reset_by"); w.string(cause.rawValue) }
        if let size = t.size { w.key("size"); w.int(size); w.key("message_complete"); w.bool(t.messageComplete) }
        w.key("chunked"); w.bool(t.chunked)
        w.key("tls"); w.bool(t.tls)
        if t.tls, let ja4 = s.tls?.ja4 { w.key("ja4"); w.string(ja4) }
        w.key("anomalies"); strings(t.anomalies.map(\.name.rawValue))
        w.endObject()
        w.endObject()
        w.newline()
    }

    private func finding(_ f: Finding, _ s: Session?) {
        w.beginObject()
        w.key("@timestamp"); w.timestamp(f.time ?? s?.start ?? .zero)
        ecs()
        w.key("message"); w.string(f.message)
        w.key("event")
        w.beginObject()
        w.key("kind"); w.plainString("alert")
        w.key("category"); w.beginArray(); w.plainString("email"); w.plainString("network"); w.endArray()
        w.key("type"); w.beginArray(); w.plainString("info"); w.endArray()
        w.key("dataset"); w.plainString("smtpscope.finding")
        w.key("module"); w.plainString("smtpscope")
        w.key("severity"); w.int(f.severity.rawValue + 1)
        w.endObject()
        w.key("rule")
        w.beginObject()
        w.key("id"); w.string(f.id.rawValue)
        w.key("name"); w.string(f.id.rawValue)
        w.key("reference"); w.string(f.reference)
        w.endObject()
        if let s { endpoints(s) }
        w.key("smtpscope")
        w.beginObject()
        w.key("session"); w.int(f.session)
        if let t = f.transaction { w.key("transaction"); w.int(t) }
        w.key("severity"); w.string(f.severity.word)
        if let s { w.key("capture"); w.string(captureName(s)) }
        w.endObject()
        w.endObject()
        w.newline()
    }

    private func ecs() {
        w.key("ecs"); w.beginObject(); w.key("version"); w.string(Self.ecsVersion); w.endObject()
    }

    private func endpoints(_ s: Session) {
        for (key, e) in [("source", s.client), ("destination", s.server)] {
            w.key(dynamic: key)
            w.beginObject()
            w.key("ip"); w.string(e.address.description)
            w.key("port"); w.int(Int(e.port))
            w.endObject()
        }
        w.key("network")
        w.beginObject()
        w.key("community_id"); w.string(CommunityID.v1(s.client, s.server))
        w.key("transport"); w.plainString("tcp")
        w.key("protocol"); w.plainString("smtp")
        w.key("type"); if s.client.address.isIPv6 { w.plainString("ipv6") } else { w.plainString("ipv4") }
        w.endObject()
    }

    /// `{"address": [...]}` from a header's addresses, when it has any.
    private func addresses(_ key: String, _ header: String?) {
        let list = Self.addresses(in: header)
        guard !list.isEmpty else { return }
        w.key(dynamic: key)
        w.beginObject()
        w.key("address"); strings(list)
        w.endObject()
    }

    private func strings(_ list: [String]) {
        w.beginArray()
        for v in list { w.stringBytes(Array(v.utf8)) }
        w.endArray()
    }

    private func tls(_ f: TLSFacts) {
        w.key("tls")
        w.beginObject()
        if let v = f.version {
            // `TLS 1.3` → version `1.3`, version_protocol `tls` (ECS's split).
            let parts = v.split(separator: " ", maxSplits: 1)
            if parts.count == 2 {
                w.key("version"); w.string(String(parts[1]))
                w.key("version_protocol"); w.string(parts[0].lowercased())
            }
        }
        if let c = f.cipher { w.key("cipher"); w.string(c) }
        w.key("established"); w.bool(f.handshake == .complete)
        if let a = f.alpn { w.key("next_protocol"); w.stringBytes(Array(a.utf8)) }
        if f.sni != nil || f.ja3 != nil {
            w.key("client")
            w.beginObject()
            if let n = f.sni { w.key("server_name"); w.stringBytes(Array(n.utf8)) }
            if let j = f.ja3 { w.key("ja3"); w.string(j) }
            w.endObject()
        }
        if f.ja3s != nil || f.serverCertificate != nil {
            w.key("server")
            w.beginObject()
            if let j = f.ja3s { w.key("ja3s"); w.string(j) }
            if let c = f.serverCertificate {
                w.key("subject"); w.stringBytes(Array(c.subject.utf8))
                w.key("issuer"); w.stringBytes(Array(c.issuer.utf8))
                w.key("not_before"); w.timestamp(c.notBefore)
                w.key("not_after"); w.timestamp(c.notAfter)
            }
            w.endObject()
        }
        w.endObject()
    }

    private func captureName(_ s: Session) -> String {
        captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : "?"
    }

    /// The addresses in a header value such as `"Name" <a@b>, c@d`: what is inside `<>`, else a
    /// part with an `@`; commas inside quotes do not split.
    static func addresses(in header: String?) -> [String] {
        guard let header else { return [] }
        var parts: [String] = []
        var current = ""
        var quoted = false
        for ch in header {
            if ch == "\"" { quoted.toggle() }
            if ch == ",", !quoted {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current)
        return parts.compactMap { p -> String? in
            if let l = p.lastIndex(of: "<"), let r = p[l...].firstIndex(of: ">") {
                let a = String(p[p.index(after: l)..<r])
                return a.isEmpty ? nil : a
            }
            let t = p.trimmingBlanks
            return t.contains("@") && !t.contains(" ") ? t : nil
        }
    }
}
