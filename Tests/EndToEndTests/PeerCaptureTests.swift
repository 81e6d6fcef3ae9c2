import Pipeline
import Foundation
import Sessions
import Testing

/// Captures from the public test suites of Zeek, Suricata, Arkime and nDPI (read from
/// ../shared/peer-captures, never copied), compared with what each project itself expects
/// (expected.json, derived from the peer's own expected-output files).
///
/// Where smtpscope differs from a peer on purpose, `Differences` says so and why.
let peerCaptures: [String] = {
    guard let all = try? FileManager.default.subpathsOfDirectory(atPath: peerDir.path) else { return [] }
    return all.filter { $0.hasSuffix("expected.json") }.map { String($0.dropLast("/expected.json".count)) }.sorted()
}()

enum Differences {
    /// Zeek logs a row for RCPT/DATA sent with no MAIL at all ("orphan" rows without mail_from);
    /// smtpscope starts a transaction only at MAIL FROM (RFC 5321 §3.3).
    static let zeekOrphanRows = true
    /// Zeek rows smtpscope does not produce, by capture and row index, with the reason.
    static let zeekSkippedRows: [String: [Int: String]] = [
        "zeek/smtp-mail-transactions-invalid": [
            2: "Zeek opens a new row at a MAIL the server refused with '503 sender already given'; the refusal says the envelope begun earlier stood, so smtpscope keeps one transaction (it matches Zeek's row 3, which carries the delivered message)",
        ]
    ]
    /// Suricata counts a transaction for a session that never sent MAIL (only HELO, STARTTLS,
    /// RSET or QUIT); smtpscope reports such sessions as sessions with no transaction.
    static let suricataSessionLevelTransactions = true
    /// Suricata's firewall tests that block traffic describe an inline firewall, not a passive decoder.
    static func skipSuricataTest(_ test: String) -> Bool { test.contains("blocked") }
    /// Why smtpscope is right where it differs, by kind of difference.
    static let whyBlockedTest = "the capture holds the traffic Suricata's firewall rule would block; a passive decoder reports what the capture holds"
    static let whyNoTransactionWithoutMail = "RFC 5321 §3.3: a mail transaction begins with MAIL; a session without one has none (smtpscope reports it as a session)"
    static let whyOrphanRow = "RFC 5321 §3.3: RCPT and DATA without MAIL begin no transaction (the server refused them)"
    static let whyHeloCR = "the CR is part of the line ending, not of the name"
    /// Suricata cut a 4 KiB line before stripping its CRLF and kept a stray CR in `helo`
    /// (smtp-long-command); the CR is not part of the name.
    static func suricataHelo(_ v: String) -> String { v.hasSuffix("\r") ? String(v.dropLast()) : v }
    /// Suricata checks that smtpscope does not match, with the reason.
    static let suricataCountExceptions: [String: String] = [
        "suricata/smtp-no-helo-rset-helo-mail": "Suricata counts the RSET sent before any HELO as a transaction of its own; nothing was begun, so smtpscope has only the later MAIL transaction",
    ]
}

/// Every field compared with a peer, and every documented difference, counted.
///
/// Three categories: a field that agrees, one that does not, and a documented difference (a peer's
/// value smtpscope does not produce on purpose, `Differences`). A documented difference counts
/// with the agreeing fields only through the reason it carries, which says why smtpscope's answer
/// is the right one; the strict ratio leaves it out.
final class Tally {
    private(set) var agreed = 0
    private(set) var disagreements: [String] = []
    /// Documented differences with the reason smtpscope's answer is the right one.
    private(set) var documented: [(what: String, rightBecause: String)] = []
    /// Record a disagreement as a test issue at once (the per-capture test).
    let strict: Bool

    init(strict: Bool) { self.strict = strict }

    /// `fields`: how many fields one check compares (a Suricata filter asserts several at once).
    func check(_ ok: Bool, _ what: @autoclosure () -> String, fields: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        if ok {
            agreed += fields
        } else {
            for _ in 0..<fields { disagreements.append(what()) }
            if strict { Issue.record("\(what())", sourceLocation: sourceLocation) }
        }
    }

    func difference(_ what: String, rightBecause why: String) { documented.append((what, why)) }

    var total: Int { agreed + disagreements.count + documented.count }
    /// Agreeing fields, and documented differences whose reason says why smtpscope is right.
    var ratio: Double { total == 0 ? 0 : Double(agreed + documented.count) / Double(total) }
    /// Agreeing fields only.
    var strictRatio: Double { total == 0 ? 0 : Double(agreed) / Double(total) }
}

func stripAngles(_ s: String) -> String {
    var t = Substring(s.trimmingCharacters(in: .whitespaces))
    if t.hasPrefix("<"), t.hasSuffix(">") { t = t.dropFirst().dropLast() }
    return String(t)
}

/// Addresses inside a header value such as `"Name" <a@b>, c@d`.
func addresses(_ header: String?) -> [String] {
    guard let header else { return [] }
    return header.split(separator: ",").compactMap { part -> String? in
        let p = String(part)
        if let l = p.firstIndex(of: "<"), let r = p[l...].firstIndex(of: ">") { return String(p[p.index(after: l)..<r]) }
        let t = p.trimmingCharacters(in: .whitespaces)
        return t.contains("@") ? t : nil
    }
}

struct PeerView {
    var sessions: [Session]
    var transactions: [Int: [Transaction]]

    init(_ c: Collector) {
        sessions = c.sessions
        transactions = Dictionary(grouping: c.transactions, by: { $0.1.id }).mapValues { $0.map(\.0).sorted { $0.index < $1.index } }
    }

    func session(_ endpoint: [String: Any]?, _ server: [String: Any]?) -> Session? {
        guard let c = endpoint, let s = server else { return nil }
        func text(_ e: [String: Any]) -> String {
            let ip = e["ip"] as? String ?? ""
            return (ip.contains(":") ? "[\(ip)]" : ip) + ":\(e["port"] as? Int ?? 0)"
        }
        return sessions.first { $0.client.description == text(c) && $0.server.description == text(s) }
    }

    var all: [Transaction] { sessions.flatMap { transactions[$0.id] ?? [] } }
}

@Suite(.enabled(if: peerCapturesExpected, "../shared/peer-captures is not beside this clone")) struct PeerCaptureTests {
    @Test func peerCapturesArePresent() {
        #expect(peerCaptures.count >= 35)
    }

    @Test(arguments: peerCaptures)
    func agreesWithThePeer(capture: String) throws {
        try compare(capture, Tally(strict: true))
    }

    /// How many of the compared fields agree, over every peer capture: at least 99 %, documented
    /// differences counted as not agreeing.
    @Test func agreementRatio() throws {
        let tally = Tally(strict: false)
        for capture in peerCaptures { try compare(capture, tally) }
        func percent(_ r: Double) -> Double { (r * 1000).rounded() / 10 }
        print("peer agreement: \(tally.total) fields: \(tally.agreed) agree, \(tally.documented.count) documented differences (smtpscope right), \(tally.disagreements.count) disagree: \(percent(tally.ratio)) % (\(percent(tally.strictRatio)) % agreeing outright)")
        for d in tally.documented { print("  documented: \(d.what) — right because \(d.rightBecause)") }
        for d in tally.disagreements { print("  disagrees: \(d)") }
        #expect(tally.total >= 280, "only \(tally.total) fields compared")
        #expect(tally.ratio >= 0.99, "\(tally.agreed) of \(tally.total) agree: \(tally.disagreements) \(tally.documented)")
    }

    func compare(_ capture: String, _ tally: Tally) throws {
        let dir = peerDir.appendingPathComponent(capture)
        let expected = try #require(loadJSON(dir.appendingPathComponent("expected.json")))
        let pcap = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") })
        var options = AnalyzerOptions()
        options.decoder.extraHeaders = ["x-mailer", "user-agent", "in-reply-to"]
        let (c, errors) = analyze([dir.appendingPathComponent(pcap).path], options: options)
        tally.check(errors.isEmpty, "\(capture): \(errors)")
        let view = PeerView(c)
        tally.check(!view.sessions.isEmpty, "\(capture): no SMTP session found")
        switch expected["peer"] as? String {
        case "zeek": try zeek(capture, expected, view, tally)
        case "suricata": try suricata(capture, expected, view, tally)
        case "arkime": try arkime(capture, expected, view, tally)
        case "ndpi": try ndpi(capture, expected, view, tally)
        default: Issue.record("\(capture): unknown peer")
        }
    }

    // Zeek: one smtp.log row per message; addresses without <>; rcpt_to is every RCPT argument.
    func zeek(_ capture: String, _ expected: [String: Any], _ view: PeerView, _ tally: Tally) throws {
        for zs in expected["sessions"] as? [[String: Any]] ?? [] {
            guard let s = view.session(zs["client"] as? [String: Any], zs["server"] as? [String: Any]) else {
                tally.check(false, "\(capture): session missing")
                continue
            }
            var rows = zs["transactions"] as? [[String: Any]] ?? []
            let txns = view.transactions[s.id] ?? []
            if rows.count == 1, rows[0]["mail_from"] == nil, rows[0]["tls"] as? Bool == true {
                // Zeek logs a STARTTLS session as a row with tls=T: smtpscope records it on the session.
                tally.check(txns.isEmpty, "\(capture): a STARTTLS row and transactions")
                tally.check(s.starttls == .started, "\(capture): tls")
                tally.check(s.helo == rows[0]["helo"] as? String, "\(capture): helo")
                continue
            }
            let skip = Differences.zeekSkippedRows[capture] ?? [:]
            for (i, r) in rows.enumerated() {
                if let why = skip[i] { tally.difference("\(capture) row \(i)", rightBecause: why) }
                else if Differences.zeekOrphanRows && r["mail_from"] == nil { tally.difference("\(capture) row \(i): a row without MAIL", rightBecause: Differences.whyOrphanRow) }
            }
            rows = rows.enumerated().filter { i, r in skip[i] == nil && !(Differences.zeekOrphanRows && r["mail_from"] == nil) }.map(\.1)
            tally.check(rows.count == txns.count, "\(capture): \(rows.count) Zeek rows, \(txns.count) transactions")
            for (r, t) in zip(rows, txns) {
                let at = "\(capture) \(s.client) transaction \(t.index)"
                tally.check(t.mailFrom == r["mail_from"] as? String, "\(at): mail_from")
                tally.check(Set(t.rcptSent) == Set(r["rcpt_to"] as? [String] ?? []), "\(at): rcpt_to")
                tally.check(t.helo == r["helo"] as? String, "\(at): helo")
                tally.check(t.headers?.subject == r["subject"] as? String, "\(at): subject \(t.headers?.subject ?? "nil") vs \(r["subject"] as? String ?? "nil")")
                tally.check(t.headers?.messageID == r["message_id"] as? String, "\(at): message_id")
                tally.check(t.headers?.date == r["date"] as? String, "\(at): date")
                tally.check(t.headers?.from == r["from"] as? String, "\(at): from")
                if let last = r["last_reply"] as? String, t.outcome == .queued, let reply = t.reply {
                    // Zeek's last_reply is the last reply of its row; for a delivered message that is
                    // the reply to the end of data, smtpscope's deciding reply.
                    tally.check("\(reply.code) " + String(decoding: reply.lines.last ?? [], as: UTF8.self) == last, "\(at): last_reply")
                }
                if let agent = r["user_agent"] as? String {
                    let h = t.headers?.extra ?? [:]
                    tally.check((h["user-agent"] ?? h["x-mailer"] ?? []).first == agent, "\(at): user_agent")
                }
            }
        }
    }

    // Suricata: partial filters — exactly `count` transactions carry the listed values (<> kept).
    func suricata(_ capture: String, _ expected: [String: Any], _ view: PeerView, _ tally: Tally) throws {
        let txns = view.all
        for f in expected["transactions"] as? [[String: Any]] ?? [] {
            let test = f["from_test"] as? String ?? ""
            if Differences.skipSuricataTest(test) {
                tally.difference("\(capture) \(test)", rightBecause: Differences.whyBlockedTest)
                continue
            }
            let envelopeKeys: Set<String> = ["mail_from", "rcpt_to", "from", "to", "email_status", "x_mailer"]
            if Set(f.keys).isDisjoint(with: envelopeKeys), txns.isEmpty, Differences.suricataSessionLevelTransactions {
                // A transaction Suricata logs for a session without MAIL: compare the session.
                tally.difference("\(capture) \(test): a Suricata transaction for a session without MAIL", rightBecause: Differences.whyNoTransactionWithoutMail)
                if let helo = f["helo"] as? String { tally.check(view.sessions.contains { $0.helo == Differences.suricataHelo(helo) }, "\(capture): helo") }
                continue
            }
            let comparable: Set<String> = ["mail_from", "rcpt_to", "helo", "tx_id", "from", "to", "email_status", "x_mailer", "other_asserted_fields"]
            // Only body_md5, attachments, received…: things smtpscope does not decode.
            if Set(f.keys).isDisjoint(with: comparable) { continue }
            // Every listed field is compared (a transaction matches when all of them agree); a helo
            // whose CR smtpscope leaves out is a documented difference, not an agreeing field.
            var fields = Set(f.keys).intersection(comparable).count
            if let helo = f["helo"] as? String, helo != Differences.suricataHelo(helo) {
                tally.difference("\(capture) \(test): Suricata's helo keeps a CR", rightBecause: Differences.whyHeloCR)
                fields -= 1
            }
            let matching = txns.filter { t in suricataMatches(f, t) }
            tally.check(matching.count == f["count"] as? Int, "\(capture) \(test): \(matching.count) transactions match \(f)", fields: max(fields, 1))
        }
        for f in expected["absent_transactions"] as? [[String: Any]] ?? [] {
            let test = f["from_test"] as? String ?? ""
            if Differences.skipSuricataTest(test) { tally.difference("\(capture) \(test) (absent transaction)", rightBecause: Differences.whyBlockedTest) }
            guard !Differences.skipSuricataTest(test), let m = f["match"] as? [String: Any] else { continue }
            var filter: [String: Any] = [:]
            if let v = m["smtp.mail_from"] { filter["mail_from"] = v }
            if let v = m["smtp.helo"] { filter["helo"] = v }
            if let v = m["tx_id"] { filter["tx_id"] = v }
            guard !filter.isEmpty else { continue }
            tally.check(!txns.contains { suricataMatches(filter, $0) }, "\(capture) \(test): a transaction Suricata says is absent")
        }
        let noMail = view.sessions.contains { (view.transactions[$0.id] ?? []).isEmpty }
        var counts: [Int] = (expected["smtp_event_counts"] as? [[String: Any]] ?? []).filter { !Differences.skipSuricataTest($0["from_test"] as? String ?? "") }.compactMap { $0["count"] as? Int }
        for f in expected["other_checks"] as? [[String: Any]] ?? [] {
            if let n = ((f["check"] as? [String: Any])?["stats"] as? [String: Any])?["app_layer.tx.smtp"] as? Int { counts.append(n) }
        }
        for n in counts {
            if let why = Differences.suricataCountExceptions[capture] {
                tally.difference("\(capture): transaction count", rightBecause: why)
            } else if noMail && Differences.suricataSessionLevelTransactions {
                tally.difference("\(capture): transaction count of a session without MAIL", rightBecause: Differences.whyNoTransactionWithoutMail)
            } else {
                tally.check(n == txns.count, "\(capture): Suricata counts \(n) transactions, smtpscope \(txns.count)")
            }
        }
    }

    func suricataMatches(_ f: [String: Any], _ t: Transaction) -> Bool {
        for (k, v) in f {
            switch k {
            case "mail_from": if stripAngles(v as? String ?? "") != t.mailFrom { return false }
            case "rcpt_to":
                let want = (v as? [String] ?? []).map(stripAngles)
                if Array(t.rcptSent.prefix(want.count)) != want { return false }
            case "helo": if Differences.suricataHelo(v as? String ?? "") != t.helo { return false }
            case "tx_id": if (v as? Int) != t.index - 1 { return false }
            case "from": if (v as? String) != t.headers?.from { return false }
            case "to":
                let want = (v as? [String] ?? []).map(stripAngles)
                let got = (t.headers?.to ?? "").split(separator: ",").map { stripAngles(String($0)) }
                if Array(got.prefix(want.count)) != want { return false }
            case "email_status": if (v as? String) == "PARSE_DONE", !(t.size != nil && t.messageComplete) { return false }
            case "x_mailer": if (v as? String) != t.headers?.extra["x-mailer"]?.first { return false }
            case "other_asserted_fields":
                let o = v as? [String: Any] ?? [:]
                let absent = (o["not-has-key"] as? [String]) ?? [(o["not-has-key"] as? String)].compactMap { $0 }
                for key in absent {
                    if key.hasPrefix("smtp.rcpt_to["), let n = Int(key.dropFirst("smtp.rcpt_to[".count).dropLast()), t.rcptSent.count > n { return false }
                    if key == "email.from", t.headers?.from != nil { return false }
                }
            default: continue  // body_md5, attachments, urls…: not decoded by smtpscope
            }
        }
        return true
    }

    // Arkime: per TCP session, lower-cased sets; email_src = MAIL FROM + From:, email_dst = RCPT TO + To: + Cc:.
    func arkime(_ capture: String, _ expected: [String: Any], _ view: PeerView, _ tally: Tally) throws {
        for a in expected["sessions"] as? [[String: Any]] ?? [] {
            guard let s = view.session(a["client"] as? [String: Any], a["server"] as? [String: Any]) else {
                tally.check(false, "\(capture): session missing")
                continue
            }
            let txns = view.transactions[s.id] ?? []
            var src = Set<String>(), dst = Set<String>(), subjects = Set<String>(), ids = Set<String>()
            for t in txns {
                if let m = t.mailFrom, !m.isEmpty { src.insert(m.lowercased()) }
                src.formUnion(addresses(t.headers?.from).map { $0.lowercased() })
                dst.formUnion(t.rcptSent.map { $0.lowercased() })
                dst.formUnion((addresses(t.headers?.to) + addresses(t.headers?.cc)).map { $0.lowercased() })
                if let sub = t.headers?.subject { subjects.insert(sub) }
                if let id = t.headers?.messageID { ids.insert(stripAngles(id)) }
            }
            func set(_ k: String) -> Set<String> { Set(a[k] as? [String] ?? []) }
            tally.check(src == set("email_src"), "\(capture): email_src")
            tally.check(dst == set("email_dst"), "\(capture): email_dst")
            tally.check(subjects == set("subject"), "\(capture): subject \(subjects) vs \(set("subject"))")
            tally.check(ids == set("message_id"), "\(capture): message_id")
            tally.check(Set([s.helo].compactMap { $0?.lowercased() }) == set("helo"), "\(capture): helo")
            tally.check(Set([s.auth?.user].compactMap { $0 }) == set("auth_user"), "\(capture): auth_user")
            tally.check((s.starttls == .started) == (a["tls"] as? Bool ?? false), "\(capture): tls")
            for tag in a["tags"] as? [String] ?? [] where tag.hasPrefix("smtp:statuscode:") {
                let code = Int(tag.split(separator: ":").last ?? "") ?? 0
                tally.check(s.timeline.contains { if case .reply(let c, _) = $0.kind { return c == code } else { return false } }, "\(capture): \(tag)")
            }
        }
    }

    // nDPI classifies the flow: the session exists, in clear text, with the banner it saw.
    func ndpi(_ capture: String, _ expected: [String: Any], _ view: PeerView, _ tally: Tally) throws {
        for n in expected["sessions"] as? [[String: Any]] ?? [] {
            guard let s = view.session(n["client"] as? [String: Any], n["server"] as? [String: Any]) else {
                tally.check(false, "\(capture): session missing")
                continue
            }
            tally.check(s.starttls == .none || s.starttls == .offered, "\(capture): clear text")
            if let prefix = n["plain_text_prefix"] as? String {
                tally.check(s.banner.map { String(decoding: $0.displayLine, as: UTF8.self).hasPrefix(prefix) } ?? false, "\(capture): banner")
            }
        }
    }
}
