import SMTP
import Vocabulary
import Sessions

/// Labels every line of a paired client leg and server leg with what the middlebox did.
enum Attribution {
    /// Timestamps of one clock can be a little out of order in a capture.
    static let tolerance = 0.002

    /// `serverLegs`: the server legs (merged in `p.server` when there are several).
    static func intercept(_ p: Pairing, serverLegs: [Leg]) -> Intercept {
        let serverEndpoints = serverLegs.map { ($0.endpointClient, $0.endpointServer) }
        let client = p.client, server = p.server
        let offset = p.clock.seconds
        func onClientClock(_ t: Timestamp) -> Timestamp { t.adding(seconds: -offset) }
        var actions: [Intercept.Action] = []
        func add(_ kind: Intercept.Kind, _ leg: Side, _ time: Timestamp, _ line: [UInt8], counterpart: [UInt8]? = nil, delay: Double? = nil, note: String? = nil, reply: Bool,
                 code: Int? = nil, message: Bool = false, replay: Bool = false, position: Int) {
            let clientTime = leg == .client ? time : onClientClock(time)
            // Timestamps of one clock may be a hair out of order: a relay takes no negative time.
            actions.append(Intercept.Action(kind: kind, leg: leg, time: time, clientClockTime: clientTime, line: line, counterpart: counterpart, delay: delay.map { max(0, $0) }, note: note, isReply: reply,
                                            code: code, isMessage: message, isReplay: replay, position: position))
        }

        /// A reply on the client leg compared with the server's reply to the same command.
        func compareReplies(_ rc: Leg.ReplyLine?, _ rs: Leg.ReplyLine?) {
            guard let rc else { return }
            guard let rs else {
                add(.synthesized, .client, rc.time, rc.text, note: "the server never sent this reply", reply: true, code: rc.code, position: rc.position)
                return
            }
            let d = rc.time.seconds(since: onClientClock(rs.time))
            if d < -tolerance {
                add(.synthesized, .client, rc.time, rc.text, counterpart: rs.text, note: "the client had this reply \(seconds(-d)) before the server answered", reply: true, code: rc.code, position: rc.position)
            } else if rc.text == rs.text {
                add(.relayed, .client, rc.time, rc.text, counterpart: rs.text, delay: d, reply: true, code: rc.code, position: rc.position)
            } else {
                add(.rewritten, .client, rc.time, rc.text, counterpart: rs.text, delay: d, reply: true, code: rc.code, position: rc.position)
            }
        }

        compareReplies(client.banner, server.banner)
        var matchedClient = Set<Int>(), matchedServer = Set<Int>()
        for (i, j, s) in p.matches {
            matchedClient.insert(i)
            matchedServer.insert(j)
            let c = client.commands[i], sv = server.commands[j]
            let delay = onClientClock(sv.time).seconds(since: c.time)
            if c.verb != .endOfData {
                add(s == .identical ? .relayed : .rewritten, .client, c.time, c.text, counterpart: sv.text, delay: delay, reply: false, position: c.position)
            }
            compareReplies(c.reply, sv.reply)
        }
        for (i, c) in client.commands.enumerated() where !matchedClient.contains(i) {
            // The end of data is shown with the message it ends.
            if c.verb != .endOfData { add(.withheld, .client, c.time, c.text, reply: false, position: c.position) }
            if let r = c.reply {
                add(.synthesized, .client, r.time, r.text, reply: true, code: r.code, position: r.position)
            }
        }
        let clientTexts = Set(client.commands.map(\.text))
        for (j, c) in server.commands.enumerated() where !matchedServer.contains(j) && c.verb != .endOfData {
            let replay = clientTexts.contains(c.text) && [.mail, .rcpt, .data, .bdat, .endOfData, .quit].contains(c.verb)
            add(.injected, .server, c.time, c.text, counterpart: c.reply?.text,
                note: replay ? "replay of the client's command" : nil, reply: false, replay: replay, position: c.position)
        }

        // Messages: paired by Message-ID, else in order.
        var serverMessages = server.messages
        for mc in client.messages {
            let k = serverMessages.firstIndex { $0.messageID != nil && $0.messageID == mc.messageID } ?? (serverMessages.isEmpty ? nil : 0)
            guard let k else {
                add(.withheld, .client, mc.end, summary(mc), note: "the message never reached the server leg", reply: false, message: true, position: mc.position)
                if mc.outcome == .queued {
                    add(.divergent, .client, mc.end, Array("client leg: queued; server leg: never received".utf8),
                        note: "the client was told the message was accepted; the server never received it", reply: false, position: mc.position)
                }
                continue
            }
            let ms = serverMessages.remove(at: k)
            let delay = onClientClock(ms.end).seconds(since: mc.end)
            // Held: the server leg began the message (DATA/BDAT) only after the client had sent all of it.
            let began = server.commands.first { $0.transaction == ms.transaction && ($0.verb == .data || $0.verb == .bdat) }
            let held = began.map { onClientClock($0.time).seconds(since: mc.end) > tolerance } ?? false
            var changes: [String] = []
            if mc.size != ms.size { changes.append("size \(mc.size) → \(ms.size) octets") }
            if mc.subject != ms.subject { changes.append("subject changed") }
            if !changes.isEmpty {
                add(.rewritten, .client, mc.end, summary(mc), counterpart: summary(ms), delay: delay, note: changes.joined(separator: ", "), reply: false, message: true, position: mc.position)
            } else if held {
                add(.held, .client, mc.end, summary(mc), counterpart: summary(ms), delay: delay, note: "passed on only after the client had sent all of it", reply: false, message: true, position: mc.position)
            } else {
                add(.relayed, .client, mc.end, summary(mc), counterpart: summary(ms), delay: delay, reply: false, message: true, position: mc.position)
            }
            // Divergent fates of the same message.
            if (mc.outcome == .queued) != (ms.outcome == .queued), mc.outcome != .incomplete, ms.outcome != .incomplete {
                add(.divergent, .client, mc.end, Array("client leg: \(mc.outcome.rawValue); server leg: \(ms.outcome.rawValue)".utf8),
                    note: mc.outcome == .queued ? "the client was told the message was accepted; the server did not accept it" : "the server accepted a message the client was told was refused", reply: false, position: mc.position)
            }
        }
        for ms in serverMessages {
            add(.injected, .server, ms.end, summary(ms), note: "a message the client did not send on this connection", reply: false, message: true, position: ms.position)
        }
        // Time first; at one time, commands before replies (they cross in opposite directions),
        // then wire order: lines of one segment share a timestamp, and the message (added after
        // every command above) must still come before a QUIT that followed its end in the same
        // segment.
        actions.sort { ($0.clientClockTime, $0.isReply ? 1 : 0, $0.position) < ($1.clientClockTime, $1.isReply ? 1 : 0, $1.position) }
        return Intercept(
            clientCapture: client.vantage, serverCapture: server.vantage,
            clientLeg: client.session, serverLegs: serverLegs.map(\.session), legIDs: [client.id] + serverLegs.map(\.id),
            clientEndpoints: (client.endpointClient, client.endpointServer), serverEndpoints: serverEndpoints.map { ($0.0, $0.1) },
            start: client.start, score: p.score, evidence: p.evidence, clock: p.clock,
            verdict: verdict(actions, tls: tlsInterception(client.tls, server.tls)), actions: actions)
    }

    static func summary(_ m: Leg.Message) -> [UInt8] {
        var s = "▸ message \(m.size) octets"
        if let subject = m.subject { s += " \"\(subject)\"" }
        return Array(s.utf8)
    }

    /// The one rule for durations (`DurationText`).
    static func seconds(_ v: Double) -> String { DurationText.format(v) }

    private static func verb(_ line: [UInt8]) -> String {
        String(decoding: line.prefix { $0 != 0x20 }, as: UTF8.self).uppercased()
    }

    /// Two TLS handshakes that differ where a relay would have left them alone: the client got a
    /// certificate from another issuer than the server's, or the server got another ClientHello
    /// than the client's (the middlebox terminated TLS on both legs, as mail shields do).
    static func tlsInterception(_ c: Leg.TLS?, _ s: Leg.TLS?) -> Intercept.Verdict.TLSInterception? {
        guard let c, let s else { return nil }
        let ci = c.issuer, si = s.issuer
        let issuersDiffer = ci != nil && si != nil && ci != si
        let helloDiffers = c.ja3 != nil && s.ja3 != nil && c.ja3 != s.ja3
        guard issuersDiffer || helloDiffers else { return nil }
        return .init(clientLegIssuer: ci, serverLegIssuer: si, clientLegJA3: c.ja3, serverLegJA3: s.ja3)
    }

    /// What the middlebox did, from the labelled lines and the legs' TLS handshakes.
    static func verdict(_ actions: [Intercept.Action], tls: Intercept.Verdict.TLSInterception? = nil) -> Intercept.Verdict {
        let injected = actions.filter { $0.kind == .injected && !$0.isReply }
        let fresh = injected.filter { !$0.isReplay && !$0.isMessage }
        let synthesized = actions.filter { $0.kind == .synthesized }
        let held = actions.first { $0.kind == .held }
        let divergences = actions.filter { $0.kind == .divergent }.map { $0.note ?? "the legs ended differently" }
        let rewritten = actions.filter { $0.kind == .rewritten }
        let withheld = actions.filter { $0.kind == .withheld && !$0.isReply }

        var v = Intercept.Verdict(kind: .other)
        v.answeredData = synthesized.contains { $0.code == 354 }
        v.heldFor = held?.delay
        var counts: [String: Int] = [:]
        for a in fresh { counts[verb(a.line), default: 0] += 1 }
        v.injected = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ($0.key, $0.value) }
        v.replayed = injected.contains { $0.isReplay }
        // The client's end-of-data reply came from the middlebox while the server had nothing yet.
        v.acceptedEarly = held != nil && divergences.isEmpty && synthesized.contains { $0.code == 250 }
        v.maskedBanner = rewritten.contains { $0.isReply && $0.code == 220 && $0.line.contains(UInt8(ascii: "*")) }
        v.maskedStartTLS = rewritten.contains { $0.isReply && $0.line.containsASCII("XXXXXXXA") }
        v.overwritten = rewritten.filter { !$0.isReply && ($0.counterpart ?? []).isMasked(version: $0.line) }.map(\.line)
        v.answeredStartTLS = withheld.contains { verb($0.line) == "STARTTLS" }
        v.keptBack = v.answeredStartTLS || v.answeredData ? [] : withheld.map(\.line)
        v.ownGoodbye = rewritten.contains { $0.isReply && $0.code == 221 } || synthesized.contains { $0.code == 221 } && !v.answeredData
        v.divergences = divergences
        v.rewroteMessages = rewritten.filter(\.isMessage).map { $0.note ?? "changed" }
        v.tlsInterception = tls
        let delays = actions.filter { $0.kind == .relayed }.compactMap(\.delay).sorted()
        v.medianRelayDelay = max(0, delays.isEmpty ? 0 : delays[delays.count / 2])

        if v.answeredData || held != nil {
            v.kind = .storeAndForward
        } else if v.maskedBanner || v.maskedStartTLS || !v.overwritten.isEmpty {
            v.kind = .inlineInspection
        } else if v.answeredStartTLS {
            v.kind = .starttlsAnswered
        } else if tls != nil {
            v.kind = .tlsInterception
        } else if actions.allSatisfy({ $0.kind == .relayed }) {
            v.kind = .transparentRelay
        }
        return v
    }

    /// The verdict in one sentence.
    static func sentence(_ v: Intercept.Verdict) -> String {
        var parts: [String] = []
        var storeAndForward: [String] = []
        if v.answeredData { storeAndForward.append("answered DATA itself") }
        if let d = v.heldFor { storeAndForward.append("held the message \(seconds(d))") }
        if !v.injected.isEmpty {
            let list = v.injected.map { $0.count == 1 ? "one \($0.verb)" : "\($0.count) \($0.verb)s" }
            storeAndForward.append("sent " + list.joined(separator: " and ") + " the client never sent")
        }
        if v.replayed { storeAndForward.append("then replayed the transaction") }
        if v.kind == .storeAndForward {
            var text = "store-and-forward scanner: " + storeAndForward.joined(separator: ", ")
            if v.acceptedEarly { text += "; the client was told \"accepted\" before the server had the message" }
            parts.append(text)
        } else if !storeAndForward.isEmpty {
            parts.append(storeAndForward.joined(separator: ", "))
        }
        var inspection: [String] = []
        if v.maskedBanner { inspection.append("masked the banner") }
        if v.maskedStartTLS { inspection.append("replaced STARTTLS by XXXXXXXA in the EHLO reply") }
        for m in v.overwritten { inspection.append("overwrote \"\(Printable.short(m, limit: 40))\" with X") }
        if !inspection.isEmpty { parts.append("inline SMTP inspection (as Cisco ESMTP inspection does): " + inspection.joined(separator: ", ")) }
        if v.answeredStartTLS {
            parts.append("answered STARTTLS itself (the server never saw it), so the session stayed unencrypted")
        } else if !v.keptBack.isEmpty {
            parts.append("kept back " + v.keptBack.map { "\"\(Printable.short($0, limit: 30))\"" }.joined(separator: ", "))
        }
        if v.ownGoodbye { parts.append("wrote its own 221") }
        if let t = v.tlsInterception {
            var what: [String] = []
            if let c = t.clientLegIssuer, let s = t.serverLegIssuer, c != s {
                what.append("the client got a certificate issued by \"\(c)\", the server's is issued by \"\(s)\"")
            }
            if let c = t.clientLegJA3, let s = t.serverLegJA3, c != s {
                what.append("the server got a ClientHello of its own (JA3 \(s), the client's \(c))")
            }
            parts.append("terminated TLS on both legs (as TLS-intercepting mail shields do): " + what.joined(separator: "; "))
        }
        for m in v.rewroteMessages { parts.append("rewrote the message (\(m))") }
        parts += v.divergences
        if parts.isEmpty {
            return "transparent relay: every line passed through unchanged (median added delay \(seconds(v.medianRelayDelay)))"
        }
        return parts.joined(separator: "; ")
    }
}
