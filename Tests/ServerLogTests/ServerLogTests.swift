import Testing
import Vocabulary
@testable import ServerLog

private func log(_ text: String) -> ServerLog { ServerLog.parse(files: [Array(text.utf8)]) }

@Suite struct HeaderTests {
    @Test func syslogWithoutYearTakesTheCapturesYear() {
        var l = log("Nov 30 09:00:45 mx postfix/smtpd[25603]: connect from unknown[192.0.2.10]:33083\n")
        #expect(l.lines.count == 1 && l.yearless)
        l.resolveYears(near: Timestamp(seconds: 1_795_942_845, nanoseconds: 0))  // 2026-11-30
        #expect(l.lines[0].time.rfc3339 == "2026-11-30T09:00:45.000000Z")
        #expect(l.lines[0].host == "mx" && l.lines[0].program == "postfix/smtpd" && l.lines[0].pid == 25603)
        // A December line read near a January capture is last year's.
        var dec = log("Dec 31 23:59:59 mx postfix/smtpd[1]: connect from unknown[192.0.2.10]\n")
        dec.resolveYears(near: Timestamp(seconds: 1_798_761_600 + 3600, nanoseconds: 0))  // 2027-01-01 01:00
        #expect(dec.lines[0].time.rfc3339 == "2026-12-31T23:59:59.000000Z")
    }

    @Test func everyTimestampForm() {
        let forms = [
            "Nov 30 09:00:45 mx postfix/smtpd[7]: connect from a[192.0.2.10]",
            "Nov 30 2026 09:00:45 mx postfix/smtpd[7]: connect from a[192.0.2.10]",
            "2026 Nov 30 09:00:45 mx postfix/smtpd[7]: connect from a[192.0.2.10]",
            "2026-11-30T09:00:45+00:00 mx postfix/smtpd[7]: connect from a[192.0.2.10]",
            "2026-11-30T10:00:45+0100 mx postfix/smtpd[7]: connect from a[192.0.2.10]",
            "2026-11-30T09:00:45.250000Z mx postfix/smtpd[7]: connect from a[192.0.2.10]",
            "<22>1 2026-11-30T09:00:45.25Z mx postfix/smtpd 7 - - connect from a[192.0.2.10]",
            "<22>1 2026-11-30T09:00:45Z mx postfix/smtpd 7 - [meta x=\"]\"] connect from a[192.0.2.10]",
        ]
        for f in forms {
            var l = log(f)
            l.resolveYears(near: Timestamp(seconds: 1_795_942_845, nanoseconds: 0))
            #expect(l.lines.count == 1, "\(f)")
            guard let line = l.lines.first else { continue }
            #expect(line.time.rfc3339.hasPrefix("2026-11-30T09:00:45"), "\(f)")
            #expect(line.pid == 7 && line.program == "postfix/smtpd", "\(f)")
            guard case .connect(let c) = line.event else { Issue.record("\(f)"); continue }
            #expect(c.address?.description == "192.0.2.10")
        }
    }

    @Test func garbageIsSkippedAndCounted() {
        var text = "not a log line\n\u{0}\u{1}\u{2}\nNov 99 99:99:99 x y: z\n2026-13-40T00:00:00Z a b: c\n<999999>1\n"
        text += "Nov 30 09:00:45 mx kernel: something\n"
        text += "Nov 30 09:00:45 mx postfix/smtpd[1]: disconnect from x[not-an-ip]:1 ehlo=1\n"
        text += "Nov 30 09:00:45 mx postfix/smtpd[1]: disconnect from x[192.0.2.1]:1 ehlo=99999999999999999999999 mail=a/b rset=2\n"
        let l = log(text)
        #expect(l.skipped == 5)
        #expect(l.firstSkipped?.line == 1)
        #expect(l.otherPrograms == 1)
        #expect(l.lines.count == 2)
        guard case .disconnect(_, let counts) = l.lines[1].event else { Issue.record("no disconnect"); return }
        #expect(counts == [CommandCount(name: "rset", accepted: 2, total: 2)])
    }

    @Test func randomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("Nov 30 09:00:45 mx postfix/smtpd[1]: <>[]:=,;-T.Z+0123456789abcdef\n\"#Fields: 2026-11-30 ".utf8)
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in Bool.random(using: &rng) ? alphabet.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng) }
            var l = ServerLog.parse(files: [bytes, bytes])
            l.resolveYears(near: Timestamp(seconds: 1_795_942_845, nanoseconds: 0))
            #expect(l.lines.count + l.skipped + l.otherPrograms <= 2 * (bytes.filter { $0 == 0x0a }.count + 1))
        }
    }
}

@Suite struct PostfixTests {
    /// The lab's store-and-forward scenario's server log, as Postfix wrote it (maillog_file).
    static let storeAndForward = """
        Nov 30 09:00:45 mx postfix/smtpd[25603]: connect from unknown[192.0.2.10]:33083
        Nov 30 09:00:45 mx postfix/smtpd[25603]: B479111A069: client=unknown[192.0.2.10]:33083
        Nov 30 09:00:49 mx postfix/smtpd[25603]: C46BC11A06A: client=unknown[192.0.2.10]:33083
        Nov 30 09:00:49 mx postfix/cleanup[25645]: C46BC11A06A: message-id=<20260302100100.1041@ws01.example.net>
        Nov 30 09:00:49 mx postfix/qmgr[25599]: C46BC11A06A: from=<alice@example.net>, size=511, nrcpt=1 (queue active)
        Nov 30 09:00:49 mx postfix/discard[25764]: C46BC11A06A: to=<bob@example.org>, relay=none, delay=0.05, delays=0.04/0.01/0/0, dsn=2.0.0, status=sent (example.org)
        Nov 30 09:00:49 mx postfix/qmgr[25599]: C46BC11A06A: removed
        Nov 30 09:00:49 mx postfix/smtpd[25603]: disconnect from unknown[192.0.2.10]:33083 ehlo=1 mail=2 rcpt=2 data=1 rset=2 noop=2 quit=1 commands=11

        """

    @Test func oneConnectionTwoQueueIDs() {
        let l = log(Self.storeAndForward)
        #expect(l.skipped == 0 && l.formats == [.postfix])
        #expect(l.sessions.count == 1)
        let s = l.sessions[0]
        #expect(s.client.address?.description == "192.0.2.10" && s.client.port == 33083 && s.client.name == "unknown")
        #expect(s.queueIDs == ["B479111A069", "C46BC11A06A"])
        #expect(s.closed)
        #expect(s.counts?.first { $0.name == "rset" }?.total == 2)
        #expect(s.counts?.first { $0.name == "commands" }?.total == 11)
        #expect(s.lines.count == 8)
        let m = l.messages["C46BC11A06A"]
        #expect(m?.messageID == "<20260302100100.1041@ws01.example.net>")
        #expect(m?.from == "alice@example.net" && m?.size == 511)
        #expect(m?.deliveries.first?.status == .sent && m?.deliveries.first?.to == "bob@example.org" && m?.deliveries.first?.dsn == "2.0.0")
        #expect(l.messages["B479111A069"]?.deliveries.isEmpty == true)
    }

    @Test func rejectsAndVerboseLines() {
        let l = log("""
            2026-11-30T09:00:45.100000+00:00 mx postfix/smtpd[9]: connect from unknown[2001:db8:c::10]:40000
            2026-11-30T09:00:45.200000+00:00 mx postfix/smtpd[9]: < unknown[2001:db8:c::10]:40000: RSET
            2026-11-30T09:00:45.200100+00:00 mx postfix/smtpd[9]: > unknown[2001:db8:c::10]:40000: 250 2.0.0 Ok
            2026-11-30T09:00:45.200200+00:00 mx postfix/smtpd[9]: smtp_get: EOF
            2026-11-30T09:00:45.300000+00:00 mx postfix/smtpd[9]: NOQUEUE: reject: RCPT from unknown[2001:db8:c::10]:40000: 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in relay recipient table; from=<alice@example.net> to=<nobody@example.org> proto=ESMTP helo=<ws01.example.net>
            2026-11-30T09:00:46.000000+00:00 mx postfix/cleanup[10]: 4F3B2A17: reject: header Subject: from me to you from unknown[2001:db8:c::10]:40000; from=<alice@example.net> to=<bob@example.org> proto=ESMTP helo=<ws01.example.net>: 5.7.1 Message content rejected by policy
            2026-11-30T09:00:46.100000+00:00 mx postfix/smtpd[9]: lost connection after END-OF-MESSAGE from unknown[2001:db8:c::10]:40000

            """)
        #expect(l.skipped == 0)
        #expect(l.sessions.count == 1)
        let s = l.sessions[0]
        #expect(s.commands.map(\.text) == ["RSET"] && s.replies.map(\.text) == ["250 2.0.0 Ok"])
        #expect(s.lostAfter == "END-OF-MESSAGE" && s.closed)
        #expect(s.rejects.count == 1)
        guard case .reject(let stage, let code, let text, let client, _, let to) = l.lines[s.rejects[0]].event else { Issue.record("no reject"); return }
        #expect(stage == "RCPT" && code == 550 && to == "nobody@example.org" && client?.port == 40000)
        #expect(text.hasPrefix("550 5.1.1 <nobody@example.org>: Recipient address rejected"))
        if case .debug = l.lines[3].event {} else { Issue.record("verbose tracing not recognised") }
        // The cleanup line has no smtpd to belong to: its message has no session, but is known.
        #expect(l.messages["4F3B2A17"]?.rejected == "5.7.1 Message content rejected by policy")
        if case .reject(_, _, _, let c, let from, _) = l.lines[5].event, from == "alice@example.net" { #expect(c?.port == 40000) } else { Issue.record("header reject") }
    }
}

@Suite struct OtherServersTests {
    @Test func eximMainLog() {
        let l = log("""
            2026-11-30 09:00:45 SMTP connection from (ws01.example.net) [192.0.2.10]:38088 (TCP/IP connection count = 1)
            2026-11-30 09:00:45 H=(ws01.example.net) [192.0.2.10]:38088 F=<alice@example.net> rejected RCPT <nobody@example.org>: Unrouteable address
            2026-11-30 09:00:45 1tS0gH-000123-Ab <= alice@example.net H=(ws01.example.net) [192.0.2.10]:38088 P=esmtp S=511 id=20260302100100.1041@ws01.example.net
            2026-11-30 09:00:45 1tS0gH-000123-Ab => :blackhole: <bob@example.org> R=discard_all
            2026-11-30 09:00:46 1tS0gH-000123-Ab Completed
            2026-11-30 09:00:46 SMTP connection from (ws01.example.net) [192.0.2.10]:38088 closed by QUIT

            """)
        #expect(l.skipped == 0 && l.formats == [.exim])
        #expect(l.sessions.count == 1)
        let s = l.sessions[0]
        #expect(s.client.port == 38088 && s.queueIDs == ["1tS0gH-000123-Ab"] && s.closed && s.rejects.count == 1)
        let m = l.messages["1tS0gH-000123-Ab"]
        #expect(m?.messageID == "<20260302100100.1041@ws01.example.net>" && m?.size == 511 && m?.from == "alice@example.net")
        #expect(m?.deliveries.map(\.status) == [.sent] && m?.deliveries.first?.to == "bob@example.org")
    }

    @Test func eximBounceAndDefer() {
        let l = log("""
            2026-11-30 09:00:45 1tS0gH-000124-Ab <= <> H=[192.0.2.10] P=smtp S=300
            2026-11-30 09:00:46 1tS0gH-000124-Ab ** carol@example.org R=dnslookup T=remote_smtp: SMTP error from remote mail server after RCPT TO:<carol@example.org>: 550 no such user
            2026-11-30 09:00:46 1tS0gH-000124-Ab == dave@example.org R=dnslookup T=remote_smtp defer (-44): SMTP error from remote mail server after RCPT TO:<dave@example.org>: 451 try later

            """)
        #expect(l.messages["1tS0gH-000124-Ab"]?.deliveries.map(\.status) == [.bounced, .deferred])
        #expect(l.messages["1tS0gH-000124-Ab"]?.from == "")
    }

    @Test func sendmailSyslog() {
        let l = log("""
            Nov 30 09:00:45 mx sendmail[4242]: 5AU90jAb004242: from=<alice@example.net>, size=511, class=0, nrcpts=1, msgid=<20260302100100.1041@ws01.example.net>, proto=ESMTP, daemon=MTA, relay=ws01.example.net [192.0.2.10]
            Nov 30 09:00:45 mx sendmail[4242]: 5AU90jAb004242: ruleset=check_rcpt, arg1=<nobody@example.org>, relay=ws01.example.net [192.0.2.10], reject=550 5.1.1 <nobody@example.org>... User unknown
            Nov 30 09:00:46 mx sendmail[4243]: 5AU90jAb004242: to=<bob@example.org>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120511, relay=mail.example.org. [198.51.100.26], dsn=4.0.0, stat=Deferred: Connection refused by mail.example.org.

            """)
        #expect(l.skipped == 0 && l.formats == [.sendmail])
        #expect(l.sessions.count == 1)
        #expect(l.sessions[0].client.address?.description == "192.0.2.10" && l.sessions[0].client.name == "ws01.example.net")
        #expect(l.sessions[0].rejects.count == 1)
        let m = l.messages["5AU90jAb004242"]
        #expect(m?.messageID == "<20260302100100.1041@ws01.example.net>")
        #expect(m?.deliveries.first?.status == .deferred && m?.deliveries.first?.to == "bob@example.org")
    }

    @Test func exchangeReceiveProtocolLog() {
        let l = log("""
            #Software: Microsoft Exchange Server
            #Version: 15.0.0.0
            #Log-type: SMTP Receive Protocol Log
            #Date: 2026-11-30T09:00:45.000Z
            #Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context
            2026-11-30T09:00:45.100Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,0,198.51.100.25:25,192.0.2.10:38088,+,,
            2026-11-30T09:00:45.101Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,1,198.51.100.25:25,192.0.2.10:38088,*,SMTPSubmit SMTPAcceptAnySender,Set Session Permissions
            2026-11-30T09:00:45.102Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,2,198.51.100.25:25,192.0.2.10:38088,>,"220 ex01.example.org Microsoft ESMTP MAIL Service ready at Mon, 30 Nov 2026 09:00:45 +0000",
            2026-11-30T09:00:45.110Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,3,198.51.100.25:25,192.0.2.10:38088,<,EHLO ws01.example.net,
            2026-11-30T09:00:45.120Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,4,198.51.100.25:25,192.0.2.10:38088,<,RSET,
            2026-11-30T09:00:45.300Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,5,198.51.100.25:25,192.0.2.10:38088,>,"250 2.6.0 <20260302100100.1041@ws01.example.net> [InternalId=1236950581251, Hostname=EX01.example.org] Queued mail for delivery",
            2026-11-30T09:00:45.400Z,EX01\\Default Frontend EX01,08DD0A1B2C3D4E5F,6,198.51.100.25:25,192.0.2.10:38088,-,,Remote(Closed)

            """)
        #expect(l.skipped == 0 && l.formats == [.exchange])
        #expect(l.sessions.count == 1)
        let s = l.sessions[0]
        #expect(s.client.port == 38088 && s.commands.map(\.text) == ["EHLO ws01.example.net", "RSET"] && s.closed)
        #expect(s.queueIDs == ["1236950581251"])
        #expect(s.replies.count == 2)
    }
}
