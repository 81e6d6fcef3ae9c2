import Correlation
import Findings
import SMTP
import ServerLog
import Vocabulary
import Sessions

/// JSON-lines records: one object per line, snake_case keys, RFC 3339 UTC times with
/// microseconds. Every field is documented in docs/output.md.
public enum JSONRecords {
    public static func transaction(_ t: Transaction, session: Endpoint, server: Endpoint, timeline: [TimelineEntry], captureName: String?, findings: [Finding] = [], communityID: String? = nil, into w: inout JSONWriter) {
        w.beginObject()
        w.key("type"); w.string("transaction")
        w.key("session"); w.int(t.session)
        w.key("index"); w.int(t.index)
        w.key("client"); w.endpoint(session)
        w.key("server"); w.endpoint(server)
        w.key("community_id"); w.string(communityID ?? CommunityID.v1(session, server))
        w.key("start"); w.timestamp(t.start)
        w.key("end"); w.timestamp(t.end)
        w.key("helo"); optionalBytes(t.helo, &w)
        w.key("mail_from"); optionalBytes(t.mailFrom, &w)
        recipients(t, &w)
        w.key("rcpt_unanswered")
        w.beginArray()
        for r in t.rcptUnanswered { w.stringBytes(Array(r.utf8)) }
        w.endArray()
        w.key("outcome"); w.string(t.outcome.rawValue)
        w.key("reset_by"); w.string(t.resetBy?.rawValue)
        w.key("reply"); reply(t.reply, &w)
        w.key("queue_id"); w.string(t.queueID)
        w.key("size"); w.int(t.size)
        w.key("message_complete"); if t.size != nil { w.bool(t.messageComplete) } else { w.null() }
        w.key("chunked"); w.bool(t.chunked)
        w.key("headers")
        if let h = t.headers {
            w.beginObject()
            w.key("subject"); w.string(h.subject)
            w.key("message_id"); w.string(h.messageID)
            w.key("from"); w.string(h.from)
            w.key("to"); w.string(h.to)
            w.key("cc"); w.string(h.cc)
            w.key("date"); w.string(h.date)
            if !h.extra.isEmpty {
                w.key("extra")
                w.beginObject()
                for name in h.extra.keys.sorted() {
                    w.key(dynamic: name)
                    w.beginArray()
                    for v in h.extra[name] ?? [] { w.string(v) }
                    w.endArray()
                }
                w.endObject()
            }
            w.endObject()
        } else {
            w.null()
        }
        if let parts = t.parts {
            // Only when parts were scanned (--attachments, --export-dir): absent otherwise.
            w.key("attachments"); attachments(parts, files: nil, &w)
        }
        w.key("tls"); w.bool(t.tls)
        w.key("timeline")
        w.beginArray()
        for e in timeline where e.transaction == t.index {
            entry(e, &w)
        }
        w.endArray()
        w.key("anomalies"); anomalies(t.anomalies, &w)
        w.key("findings"); self.findings(findings.filter { $0.transaction == t.index }, &w)
        if let log = t.serverLog { transactionLog(log, &w) }
        w.endObject()
        w.newline()
    }

    /// `server_log`, `server_log_match` and `delivery` of a transaction record (with `--maillog`).
    static func transactionLog(_ log: TransactionLog, _ w: inout JSONWriter) {
        w.key("server_log"); logLines(log.lines, &w)
        w.key("server_log_match")
        if let m = log.message {
            w.beginObject()
            w.key("by"); w.string(log.key)
            w.key("queue_id"); w.string(m.queueID)
            w.key("message_id"); w.string(m.messageID)
            w.key("rejected"); w.string(m.rejected)
            w.endObject()
        } else {
            w.null()
        }
        w.key("delivery")
        w.beginArray()
        for d in log.message?.deliveries ?? [] {
            w.beginObject()
            w.key("time"); w.timestamp(d.time)
            w.key("to"); w.string(d.to)
            w.key("status"); w.string(d.status.rawValue)
            w.key("dsn"); w.string(d.dsn)
            w.key("relay"); w.string(d.relay)
            w.key("detail"); w.string(d.detail)
            w.endObject()
        }
        w.endArray()
    }

    /// `server_log` and `server_log_match` of a session record (with `--maillog`).
    static func sessionLog(_ log: SessionLog, _ w: inout JSONWriter) {
        w.key("server_log"); logLines(log.lines, &w)
        w.key("server_log_match")
        if let ls = log.session {
            w.beginObject()
            w.key("by"); w.string(log.key?.rawValue)
            w.key("format"); w.string(ls.format.rawValue)
            w.key("client_address"); w.string(ls.client.address?.description)
            w.key("client_port"); w.int(ls.client.port.map(Int.init))
            w.key("clock_offset"); w.double(log.offset, decimals: 3)
            w.key("queue_ids")
            w.beginArray()
            for q in ls.queueIDs { w.string(q) }
            w.endArray()
            w.key("commands")
            if let counts = ls.counts {
                w.beginObject()
                for c in counts {
                    w.key(dynamic: c.name)
                    w.beginObject()
                    w.key("accepted"); w.int(c.accepted)
                    w.key("total"); w.int(c.total)
                    w.endObject()
                }
                w.endObject()
            } else {
                w.null()
            }
            w.endObject()
        } else {
            w.null()
        }
    }

    static func logLines(_ lines: [LogLine], _ w: inout JSONWriter) {
        w.beginArray()
        for l in lines {
            w.beginObject()
            w.key("time"); w.timestamp(l.corrected)
            w.key("logged"); w.timestamp(l.time)
            w.key("host"); w.string(l.host)
            w.key("program"); w.string(l.program)
            w.key("pid"); w.int(l.pid)
            w.key("queue_id"); w.string(l.queueID)
            w.key("line"); w.string(l.text)
            w.endObject()
        }
        w.endArray()
    }

    public static func session(_ s: Session, captureName: String, interface: Int?, findings: [Finding] = [], communityID: String? = nil, into w: inout JSONWriter) {
        w.beginObject()
        w.key("type"); w.string("session")
        w.key("session"); w.int(s.id)
        w.key("client"); w.endpoint(s.client)
        w.key("server"); w.endpoint(s.server)
        w.key("community_id"); w.string(communityID ?? CommunityID.v1(s.client, s.server))
        w.key("capture")
        w.beginObject()
        w.key("file"); w.string(captureName)
        w.key("interface"); w.int(interface)
        w.endObject()
        w.key("start"); w.timestamp(s.start)
        w.key("end"); w.timestamp(s.end)
        w.key("roles_from_handshake"); w.bool(s.rolesFromHandshake)
        w.key("proxy")
        if let p = s.proxy {
            w.beginObject()
            w.key("type"); w.string(p.kind.rawValue)
            w.key("target"); w.stringBytes(Array(p.target.utf8))
            w.key("authenticated"); w.bool(p.authenticated)
            w.endObject()
        } else {
            w.null()
        }
        w.key("banner")
        if let b = s.banner { w.stringBytes(b.displayLine) } else { w.null() }
        w.key("helo"); optionalBytes(s.helo, &w)
        w.key("helo_refused")
        w.beginArray()
        for r in s.heloRefused {
            w.beginObject()
            w.key("name"); w.stringBytes(Array(r.name.utf8))
            w.key("code"); w.int(r.code)
            w.endObject()
        }
        w.endArray()
        w.key("extensions")
        w.beginArray()
        for e in s.extensions { w.stringBytes(Array(e.utf8)) }
        w.endArray()
        w.key("starttls"); w.string(s.starttls.rawValue)
        w.key("tls")
        if let f = s.tls { tlsFacts(f, &w) } else { w.null() }
        w.key("auth")
        if let a = s.auth {
            w.beginObject()
            w.key("mechanism"); w.string(a.mechanism)
            w.key("user"); optionalBytes(a.user, &w)
            w.key("result"); w.string(a.result.rawValue)
            // Only when there is one: NTLM's names, and the password with --show-credentials.
            if let d = a.domain { w.key("domain"); w.stringBytes(Array(d.utf8)) }
            if let ws = a.workstation { w.key("workstation"); w.stringBytes(Array(ws.utf8)) }
            if let p = a.password { w.key("password"); w.stringBytes(Array(p.utf8)) }
            w.endObject()
        } else {
            w.null()
        }
        w.key("transactions"); w.int(s.transactions)
        w.key("close"); w.string(s.close.rawValue)
        w.key("quit_sent"); w.bool(s.quitSent)
        w.key("bytes")
        w.beginObject()
        w.key("client"); w.int(s.bytes[0])
        w.key("server"); w.int(s.bytes[1])
        w.endObject()
        w.key("gaps")
        w.beginObject()
        w.key("client"); w.int(s.gaps[0])
        w.key("server"); w.int(s.gaps[1])
        w.key("client_bytes"); w.int(s.gapBytes[0])
        w.key("server_bytes"); w.int(s.gapBytes[1])
        w.endObject()
        w.key("handshake_rtt"); if let r = s.handshakeRTT { w.double(r) } else { w.null() }
        w.key("tcp")
        w.beginObject()
        for (name, t) in [("client", s.tcp[0]), ("server", s.tcp[1])] {
            w.key(dynamic: name)
            w.beginObject()
            w.key("packets"); w.int(t.packets)
            w.key("retransmissions"); w.int(t.retransmissions)
            w.key("inconsistent_retransmissions"); w.int(t.inconsistentRetransmissions)
            w.key("out_of_order"); w.int(t.outOfOrder)
            w.key("keep_alives"); w.int(t.keepAlives)
            w.key("ttls")
            w.beginArray()
            for v in t.ttls { w.int(Int(v)) }
            w.endArray()
            w.key("ip_id_jumps"); w.int(t.ipIDJumps)
            w.key("offload_frames"); w.int(t.offloadFrames)
            w.key("mss"); w.int(t.mss.map(Int.init))
            w.key("window_scale"); w.int(t.windowScale.map(Int.init))
            w.key("sack_permitted"); w.bool(t.sackPermitted)
            w.key("timestamps"); w.bool(t.timestamps)
            w.endObject()
        }
        w.endObject()
        w.key("combined_from")
        if let c = s.combinedFrom {
            w.beginArray()
            for id in c { w.int(id) }
            w.endArray()
        } else {
            w.null()
        }
        // The lines outside any transaction (greeting, EHLO, AUTH, STARTTLS, QUIT…): with the
        // transactions' timelines, every line the text timeline shows.
        w.key("timeline")
        w.beginArray()
        for e in s.timeline where e.transaction == nil { entry(e, &w) }
        w.endArray()
        w.key("timeline_dropped"); w.int(s.timelineDropped)
        w.key("anomalies"); anomalies(s.anomalies, &w)
        w.key("findings"); self.findings(findings, &w)
        if let log = s.serverLog { sessionLog(log, &w) }
        w.endObject()
        w.newline()
    }

    /// What pairing needs of a session, to pair it without the capture (`smtpscope correlate`):
    /// the `leg` record (docs/output.md). Times are integer nanoseconds, those of lines after
    /// `start_ns`; line texts are written so that every byte reads back (`JSONWriter.exactBytes`).
    public static func leg(_ leg: Leg, captureName: String, into w: inout JSONWriter) {
        let t0 = leg.start.nanoseconds
        func reply(_ r: Leg.ReplyLine?) {
            guard let r else { return w.null() }
            w.beginObject()
            w.key("t"); w.int(Int(r.time.nanoseconds &- t0))
            w.key("code"); w.int(r.code)
            w.key("line"); w.exactBytes(r.text)
            w.key("p"); w.int(r.position)
            w.endObject()
        }
        func pair(_ v: [UInt32?]) {
            w.beginArray()
            for x in v { w.int(x.map(Int.init)) }
            w.endArray()
        }
        w.beginObject()
        w.key("type"); w.string("leg")
        w.key("session"); w.int(leg.session)
        w.key("capture")
        w.beginObject()
        w.key("file"); w.string(captureName)
        w.key("interface"); w.int(leg.vantage.interface)
        w.endObject()
        w.key("key"); w.stringBytes(leg.partitionKey)
        w.key("client"); w.endpoint(leg.endpointClient)
        w.key("server"); w.endpoint(leg.endpointServer)
        w.key("start_ns"); w.int(Int(t0))
        w.key("end_ns"); w.int(Int(leg.end.nanoseconds))
        w.key("isn"); pair(leg.wire.isn)
        w.key("syn_tsval"); pair(leg.wire.synTimestamp)
        w.key("gaps")
        w.beginArray()
        for g in leg.wire.gaps { w.int(g) }
        w.endArray()
        w.key("gap_bytes")
        w.beginArray()
        for g in leg.wire.gapBytes { w.int(g) }
        w.endArray()
        w.key("tls")
        if let t = leg.tls {
            w.beginObject()
            w.key("issuer"); w.string(t.issuer)
            w.key("ja3"); w.string(t.ja3)
            w.endObject()
        } else {
            w.null()
        }
        w.key("banner"); reply(leg.banner)
        w.key("commands")
        w.beginArray()
        for c in leg.commands {
            w.beginObject()
            w.key("i"); w.int(c.index)
            w.key("t"); w.int(Int(c.time.nanoseconds &- t0))
            w.key("verb"); w.string(LegRecord.verbName(c.verb))
            w.key("line"); w.exactBytes(c.text)
            w.key("txn"); w.int(c.transaction)
            w.key("p"); w.int(c.position)
            w.key("reply"); reply(c.reply)
            w.endObject()
        }
        w.endArray()
        w.key("messages")
        w.beginArray()
        for m in leg.messages {
            w.beginObject()
            w.key("txn"); w.int(m.transaction)
            w.key("t"); w.int(Int(m.end.nanoseconds &- t0))
            w.key("p"); w.int(m.position)
            w.key("size"); w.int(m.size)
            w.key("message_id"); w.string(m.messageID)
            w.key("subject"); w.string(m.subject)
            w.key("outcome"); w.string(m.outcome.rawValue)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        w.newline()
    }

    /// One capture point's clock against the reference capture (`smtpscope correlate`).
    public static func clock(_ c: CaptureClock, captureNames: [String], into w: inout JSONWriter) {
        func name(_ file: Int) -> String { captureNames.indices.contains(file) ? captureNames[file] : "?" }
        w.beginObject()
        w.key("type"); w.string("clock")
        w.key("capture"); w.string(name(c.capture))
        w.key("reference"); w.string(c.reference.map(name))
        w.key("offset"); if c.reference != nil { w.double(c.offset) } else { w.null() }
        w.key("uncertainty"); if c.reference != nil { w.double(c.uncertainty) } else { w.null() }
        w.key("drift_ppm"); if let d = c.driftPPM { w.double(d, decimals: 1) } else { w.null() }
        w.key("pairs"); w.int(c.pairs)
        w.key("via")
        w.beginArray()
        for v in c.via { w.string(name(v)) }
        w.endArray()
        w.endObject()
        w.newline()
    }

    static func findings(_ list: [Finding], _ w: inout JSONWriter) {
        w.beginArray()
        for f in list {
            w.beginObject()
            w.key("id"); w.string(f.id.rawValue)
            w.key("severity"); w.string(f.severity.word)
            w.key("t"); w.timestamp(f.time)
            w.key("message"); w.string(f.message)
            w.key("reference"); w.string(f.reference)
            w.endObject()
        }
        w.endArray()
    }

    /// The closing record: counts for the whole run.
    /// `selected`: what `--session`/`--transaction` chose (`N` or `N.M`) and how many sessions
    /// the run had; the key is written only then.
    public static func summary(sessions: Int, transactions: Int, outcomes: [(String, Int)], intercepts: Int, findings: [(String, String, Int)], packets: Int, selected: (String, Int)? = nil, serverLog: ServerLogJoin.Summary? = nil, into w: inout JSONWriter) {
        w.beginObject()
        w.key("type"); w.string("summary")
        w.key("sessions"); w.int(sessions)
        w.key("transactions"); w.int(transactions)
        w.key("outcomes")
        w.beginObject()
        for (k, v) in outcomes { w.key(dynamic: k); w.int(v) }
        w.endObject()
        w.key("intercepts"); w.int(intercepts)
        w.key("findings")
        w.beginArray()
        for (id, severity, n) in findings {
            w.beginObject()
            w.key("id"); w.string(id)
            w.key("severity"); w.string(severity)
            w.key("count"); w.int(n)
            w.endObject()
        }
        w.endArray()
        w.key("packets"); w.int(packets)
        if let (what, all) = selected {
            w.key("selected"); w.string(what)
            w.key("sessions_read"); w.int(all)
        }
        if let l = serverLog {
            w.key("server_log")
            w.beginObject()
            w.key("formats")
            w.beginArray()
            for f in l.formats { w.string(f.rawValue) }
            w.endArray()
            w.key("lines"); w.int(l.lines)
            w.key("skipped"); w.int(l.skipped)
            w.key("other_programs"); w.int(l.otherPrograms)
            w.key("connections"); w.int(l.logSessions)
            w.key("connections_matched"); w.int(l.matchedLogSessions)
            w.key("sessions_matched")
            w.beginObject()
            for k in [LogJoinKey.queueID, .port, .address] { w.key(dynamic: k.rawValue); w.int(l.matchesByKey[k] ?? 0) }
            w.endObject()
            w.key("clock_offset"); if l.matches > 0 { w.double(l.offset, decimals: 3) } else { w.null() }
            w.key("year_from_capture"); w.bool(l.yearless)
            w.endObject()
        }
        w.endObject()
        w.newline()
    }


    /// The session's `tls` object (docs/output.md).
    static func tlsFacts(_ f: TLSFacts, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("version"); w.string(f.version)
        w.key("cipher"); w.string(f.cipher)
        w.key("sni"); optionalBytes(f.sni, &w)
        w.key("alpn"); optionalBytes(f.alpn, &w)
        w.key("ja3"); w.string(f.ja3)
        w.key("ja3s"); w.string(f.ja3s)
        w.key("ja4"); w.string(f.ja4)
        w.key("server_certificate")
        if let c = f.serverCertificate {
            w.beginObject()
            w.key("subject"); w.stringBytes(Array(c.subject.utf8))
            w.key("issuer"); w.stringBytes(Array(c.issuer.utf8))
            w.key("not_before"); w.timestamp(c.notBefore)
            w.key("not_after"); w.timestamp(c.notAfter)
            w.key("san")
            w.beginArray()
            for n in c.san { w.stringBytes(Array(n.utf8)) }
            w.endArray()
            w.endObject()
        } else {
            w.null()
        }
        w.key("handshake"); w.string(f.handshake.rawValue)
        w.key("stopped_after"); w.string(f.stoppedAfter)
        w.key("alert"); w.string(f.alert)
        w.key("alert_from"); w.string(f.alertFrom?.rawValue)
        w.key("decrypted"); w.bool(f.decrypted)
        w.endObject()
    }

    /// The leaf MIME parts of a message; `files`: where each part's decoded octets were written
    /// (export), by part index.
    public static func attachments(_ parts: [MIMEPart], files: [Int: String]?, _ w: inout JSONWriter) {
        w.beginArray()
        for p in parts {
            w.beginObject()
            w.key("index"); w.int(p.index)
            w.key("filename"); optionalBytes(p.filename, &w)
            w.key("content_type"); w.stringBytes(Array(p.contentType.utf8))
            w.key("disposition"); optionalBytes(p.disposition, &w)
            w.key("encoding"); optionalBytes(p.encoding, &w)
            w.key("size"); w.int(p.size)
            w.key("sha256"); w.string(p.sha256)
            w.key("complete"); w.bool(p.complete)
            if let files { w.key("file"); w.string(files[p.index]) }
            w.endObject()
        }
        w.endArray()
    }

    /// `rcpt_to` (the recipients accepted) and `rcpt_rejected` (`{"address", "code"}`), as the
    /// transaction record, the exported message's record and the ECS document write them.
    static func recipients(_ t: Transaction, _ w: inout JSONWriter) {
        w.key("rcpt_to")
        w.beginArray()
        for r in t.rcptTo { w.stringBytes(Array(r.utf8)) }
        w.endArray()
        w.key("rcpt_rejected")
        w.beginArray()
        for r in t.rcptRejected {
            w.beginObject()
            w.key("address"); w.stringBytes(Array(r.address.utf8))
            w.key("code"); w.int(r.code)
            w.endObject()
        }
        w.endArray()
    }

    static func optionalBytes(_ s: String?, _ w: inout JSONWriter) {
        if let s { w.stringBytes(Array(s.utf8)) } else { w.null() }
    }

    static func reply(_ r: Reply?, _ w: inout JSONWriter) {
        guard let r else { return w.null() }
        w.beginObject()
        w.key("code"); w.int(r.code)
        w.key("enhanced"); w.string(r.enhanced)
        w.key("text"); w.stringBytes(Array(r.text.utf8))
        w.endObject()
    }

    static func entry(_ e: TimelineEntry, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("t"); w.timestamp(e.time)
        w.key("from"); w.plainString(e.side == .client ? "client" : "server")
        w.key("kind")
        switch e.kind {
        case .command: w.plainString("command")
        case .reply: w.plainString("reply")
        case .message: w.plainString("message")
        case .tls: w.plainString("tls")
        case .gap: w.plainString("gap")
        case .note: w.plainString("note")
        }
        w.key("line"); w.stringBytes(e.line)
        w.endObject()
    }

    static func anomalies(_ list: [Anomaly], _ w: inout JSONWriter) {
        w.beginArray()
        for a in list {
            w.beginObject()
            w.key("name"); w.string(a.name.rawValue)
            w.key("t"); w.timestamp(a.time)
            w.key("detail"); w.string(a.detail)
            w.endObject()
        }
        w.endArray()
    }

    /// A finding about the whole run (`keylog-matches-no-handshake`).
    public static func runFinding(_ f: Finding, into w: inout JSONWriter) {
        w.beginObject()
        w.key("type"); w.string("finding")
        w.key("session"); w.int(f.session)
        w.key("findings"); findings([f], &w)
        w.endObject()
        w.newline()
    }

    /// One connection seen at two capture points (see `SameConnection`).
    public static func sameConnection(_ x: SameConnection, combinedSession: Int? = nil, captureNames: [String], findings: [Finding] = [], into w: inout JSONWriter) {
        func name(_ v: Vantage) -> String { captureNames.indices.contains(v.file) ? captureNames[v.file] : "?" }
        w.beginObject()
        w.key("type"); w.string("same_connection")
        for (key, k, session, vantage) in [("near_client", 0, x.nearClient, x.nearClientCapture), ("near_server", 1, x.nearServer, x.nearServerCapture)] {
            w.key(dynamic: key)
            w.beginObject()
            w.key("session"); w.int(session)
            w.key("capture"); w.string(name(vantage))
            w.key("interface"); w.int(vantage.interface)
            w.key("gap_bytes"); w.int(x.gapBytes[k])
            w.key("gap_bytes_in_other_copy"); w.int(x.gapBytesInOtherCopy[k])
            w.endObject()
        }
        w.key("relation"); w.string(x.relation.rawValue)
        w.key("clock_offset")
        w.beginObject()
        w.key("seconds"); w.double(x.clock.seconds)
        w.key("uncertainty"); w.double(x.clock.uncertainty)
        w.key("same_clock"); w.bool(x.clock.sameClock)
        w.endObject()
        w.key("transit"); if let t = x.transit { w.double(t) } else { w.null() }
        w.key("combined_session"); if let c = combinedSession { w.int(c) } else { w.null() }
        w.key("verdict"); w.string(x.verdict)
        w.key("evidence")
        w.beginArray()
        for e in x.evidence { w.string(e) }
        w.endArray()
        w.key("findings"); self.findings(findings, &w)
        w.endObject()
        w.newline()
    }

    public static func intercept(_ x: Intercept, captureNames: [String], findings: [Finding] = [], into w: inout JSONWriter) {
        func name(_ v: Vantage) -> String { captureNames.indices.contains(v.file) ? captureNames[v.file] : "?" }
        w.beginObject()
        w.key("type"); w.string("intercept")
        w.key("client_leg"); w.int(x.clientLeg)
        w.key("server_leg")
        w.beginArray()
        for s in x.serverLegs { w.int(s) }
        w.endArray()
        w.key("client_capture"); w.string(name(x.clientCapture))
        w.key("server_capture"); w.string(name(x.serverCapture))
        w.key("score"); w.int(x.score)
        w.key("evidence")
        w.beginArray()
        for e in x.evidence { w.string(e) }
        w.endArray()
        w.key("clock_offset")
        w.beginObject()
        w.key("seconds"); w.double(x.clock.seconds)
        w.key("uncertainty"); w.double(x.clock.uncertainty)
        w.key("same_clock"); w.bool(x.clock.sameClock)
        w.key("drift_ppm"); if let d = x.clock.driftPPM { w.double(d, decimals: 1) } else { w.null() }
        w.endObject()
        w.key("verdict"); w.string(x.verdict.description)
        w.key("findings"); self.findings(findings, &w)
        w.key("actions")
        w.beginArray()
        for a in x.actions {
            w.beginObject()
            w.key("kind"); w.string(a.kind.rawValue)
            w.key("leg"); w.string(a.leg.rawValue)
            w.key("t"); w.timestamp(a.time)
            w.key("line"); w.stringBytes(a.line)
            w.key("counterpart"); if let c = a.counterpart { w.stringBytes(c) } else { w.null() }
            w.key("delay"); if let d = a.delay { w.double(d) } else { w.null() }
            w.key("note"); w.string(a.note)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        w.newline()
    }
}
