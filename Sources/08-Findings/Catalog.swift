/// Every finding smtpscope knows: severity, one-line title, the long explanation `smtpscope
/// explain` prints, and the reference (RFC section or documented product behaviour).
public enum Catalog {
    public struct Entry: Sendable {
        public var id: FindingID
        public var severity: Severity
        public var title: String
        public var explanation: String
        public var reference: String
    }

    /// The entry for `id`. Every id has one (a test checks `FindingID.all` against `all`); an id
    /// missing from the list would read as a warning with no explanation rather than crash.
    public static func entry(_ id: FindingID) -> Entry {
        byID[id] ?? Entry(id: id, severity: .warning, title: id.rawValue, explanation: "", reference: "")
    }

    /// The entry for a finding id given as text (`smtpscope explain ID`); nil for an unknown id.
    public static func entry(named id: String) -> Entry? { FindingID(rawValue: id).flatMap { byID[$0] } }

    static let byID: [FindingID: Entry] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static let all: [Entry] = [
        // Greeting
        Entry(id: .heloWithoutHostname, severity: .warning, title: "HELO/EHLO without a host name",
              explanation: "The client sent HELO or EHLO with no host name. RFC 5321 requires one (a domain or an address literal such as [192.0.2.10]); most servers refuse the command with 501, and a client that does not then retry cannot send mail at all. Seen with closed-source clients and embedded devices. Fix the client's configuration (its host or domain name setting); as a stop-gap, the server can be told to accept it (Postfix: smtpd_helo_required = no and no reject_invalid_helo_hostname).",
              reference: "RFC 5321 §4.1.1.1"),
        Entry(id: .heloRefusedClientGaveUp, severity: .problem, title: "HELO/EHLO refused and the client gave up",
              explanation: "The server refused the client's greeting and the client closed the session without trying again (with a valid name, or HELO after a refused EHLO). No mail can pass. Look at the name the client sends and at the server's HELO restrictions.",
              reference: "RFC 5321 §4.1.1.1, §3.2"),
        Entry(id: .ehloRefusedNoHelo, severity: .warning, title: "EHLO refused and HELO never tried",
              explanation: "RFC 5321 asks a client whose EHLO is refused to fall back to HELO. This client did not. The session went on without a successful greeting, or ended.",
              reference: "RFC 5321 §3.2"),
        Entry(id: .heloLiteralMismatch, severity: .info, title: "Address literal in HELO is not the client's address",
              explanation: "The client greeted with an address literal, e.g. EHLO [192.0.2.10], that is not the address its packets came from: it is behind NAT, or a proxy relays it. Harmless in itself; it tells where the connection really comes from.",
              reference: "RFC 5321 §4.1.3, §4.1.4"),
        // RSET and NOOP patterns
        Entry(id: .rsetAfterRecipients, severity: .warning, title: "RSET right after accepted recipients",
              explanation: "Recipients were accepted, and instead of DATA the next command was RSET: the message was not sent in this transaction. A client rarely does this on its own. Anti-virus software that proxies outgoing SMTP (e.g. Symantec Endpoint Protection's Internet Email Auto-Protect) sends RSET on the server side while it takes the message from the client, then replays the transaction; the server's log then shows RSETs the client never sent. Capture on the client and on the server to see both legs.",
              reference: "RFC 5321 §4.1.1.5; documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: .rsetConnectionReuse, severity: .info, title: "RSET before MAIL on a reused connection",
              explanation: "After a delivered message the client sent RSET and then a new MAIL FROM on the same connection. This is connection caching (Postfix's SMTP client does it to check the cached connection): benign.",
              reference: "RFC 5321 §4.1.1.5; Postfix connection cache"),
        Entry(id: .rsetBurst, severity: .warning, title: "Several RSETs in a row",
              explanation: "The client sent RSET several times with nothing in between. Real clients do not need more than one; a proxy keeping a connection busy does this.",
              reference: "RFC 5321 §4.1.1.5"),
        Entry(id: .transactionReplayed, severity: .warning, title: "The same transaction replayed",
              explanation: "A transaction that was reset was sent again on the same connection with the same sender and recipients. A store-and-forward scanner replays the transaction once it has taken the message from the client.",
              reference: "documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: .noopKeepalive, severity: .warning, title: "NOOPs while a transaction waits",
              explanation: "The client sent NOOP repeatedly in the middle of a transaction. A proxy does this to keep the server connection open while it holds the message (scanning it, or waiting for the client's QUIT).",
              reference: "RFC 5321 §4.1.1.9; documented scanner behaviour"),
        // Answers from somewhere else
        Entry(id: .fastReply, severity: .warning, title: "A reply came faster than the server answers",
              explanation: "The reply to DATA or to the end of the message arrived far faster than a round trip to the server takes — measured at the capture point on the replies to EHLO, MAIL and RCPT, which the server writes itself (the TCP handshake is no measure: a proxy that answers DATA answers the handshake too). The server cannot have written it: something nearer did — a proxy that answers DATA itself and holds the message. Capture on the server side too, and run smtpscope on both captures to see what the proxy did.",
              reference: "documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: .ttlMismatch, severity: .warning, title: "Replies from another host",
              explanation: "Some of the server's replies arrived with a different IP TTL (hop limit) than its banner: another host wrote them into the connection. Large providers do this themselves: a front end accepts the connection and sends the banner, then hands the connection to another machine. Alone, this is reported as information. When the dialogue also shows a middlebox (a masked banner, XXXXXXXA, a command overwritten with X, a reply to DATA faster than the server answers, STARTTLS offered and then called unknown, a reply outside the server's IPv4 ID sequence), it is a warning: the other host is most likely that middlebox.",
              reference: "RFC 791 §3.2 (TTL); RFC 8200 §3 (hop limit)"),
        Entry(id: .ipIDMismatch, severity: .warning, title: "Reply outside the server's IPv4 ID sequence",
              explanation: "The server's replies carry IPv4 identification numbers from one counter that moves forward packet by packet; one reply's number lies outside that sequence while the next reply continues it. Another host (a firewall or proxy on the path) wrote that reply into the connection. Capture on the server itself to see whether it ever sent it.",
              reference: "RFC 6864 §4; RFC 791 §3.2"),
        // Inspecting firewalls
        Entry(id: .bannerMasked, severity: .problem, title: "Banner masked with asterisks",
              explanation: "The server's greeting text is all asterisks. An inspecting firewall (Cisco ASA/PIX 'inspect esmtp' / Mailguard) rewrites the banner this way. It also hides STARTTLS and blocks some commands. Consider disabling ESMTP inspection for the mail server.",
              reference: "Cisco ASA ESMTP inspection documentation"),
        Entry(id: .starttlsMasked, severity: .problem, title: "STARTTLS hidden as XXXXXXXA",
              explanation: "The EHLO reply lists XXXXXXXA where STARTTLS would be: something on the path overwrote the keyword (Cisco ESMTP inspection does; some ISPs did at scale), so the client cannot encrypt.",
              reference: "RFC 3207; Cisco ASA ESMTP inspection; EFF reports on STARTTLS stripping"),
        Entry(id: .commandMasked, severity: .warning, title: "A command overwritten with X",
              explanation: "A client command reached the server as a run of X of the same length: an inspecting firewall blocked it in place. The server answers 500 command not recognized.",
              reference: "Cisco ASA ESMTP inspection documentation"),
        // STARTTLS
        Entry(id: .starttlsNotUsed, severity: .info, title: "STARTTLS offered but not used",
              explanation: "The server offered STARTTLS and the client sent mail in the clear anyway.",
              reference: "RFC 3207 §4"),
        Entry(id: .starttlsRefused, severity: .warning, title: "STARTTLS refused",
              explanation: "The client asked for TLS and the server refused. Mail then goes unencrypted or not at all.",
              reference: "RFC 3207 §4"),
        Entry(id: .starttlsAnswerInconsistent, severity: .problem, title: "STARTTLS offered, then called unknown",
              explanation: "The server offered STARTTLS in its EHLO reply but answered STARTTLS as an unknown or unsupported command. A server does not contradict itself like this: a proxy between them answered STARTTLS (anti-virus mail scanners that cannot read TLS do), and the session stayed unencrypted.",
              reference: "RFC 3207 §4; documented scanner behaviour"),
        Entry(id: .cleartextCredentials, severity: .warning, title: "Password sent without TLS",
              explanation: "The client authenticated with AUTH PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER on a connection that was not encrypted: no STARTTLS before it, and no TLS from the start. These mechanisms send the password (or access token) itself, only base64-encoded, so anyone on the path can read it — this capture holds it. RFC 4954 asks servers not to allow such mechanisms without TLS, and RFC 8314 asks clients to submit mail over TLS. Make the client use STARTTLS (and require it) or implicit TLS on port 465, and make the server refuse plaintext AUTH without TLS (Postfix: smtpd_tls_auth_only = yes). AUTH sent after a STARTTLS the server accepted is not reported, even when the capture shows it in clear text (plaintext-after-starttls): such captures are mostly exports of what a TLS-inspecting firewall decrypted.",
              reference: "RFC 4954 §4; RFC 8314 §3"),
        // Pipelining and matching
        Entry(id: .pipeliningNotOffered, severity: .warning, title: "Pipelining without PIPELINING",
              explanation: "The client sent several commands without waiting for replies, but the server did not offer PIPELINING. Servers may drop or misread the extra commands.",
              reference: "RFC 2920 §3.1"),
        Entry(id: .commandsAfterData, severity: .warning, title: "Commands sent after DATA without waiting",
              explanation: "The client kept sending after DATA instead of waiting for the 354. DATA must end a pipelined group; what follows is read as message content if the server says 354.",
              reference: "RFC 2920 §3.1"),
        Entry(id: .replyWithoutCommand, severity: .warning, title: "A reply with no command",
              explanation: "The server sent a reply no command was waiting for: the capture missed a command, or something injected the reply.",
              reference: "RFC 5321 §4.2"),
        Entry(id: .commandsNeverAnswered, severity: .warning, title: "Commands never answered",
              explanation: "Some commands got no reply before the connection ended: the server stopped answering, or the replies were lost before the capture point.",
              reference: "RFC 5321 §4.2, §4.5.3.2"),
        Entry(id: .invalidReply, severity: .warning, title: "Malformed or invalid reply",
              explanation: "A server line is not a valid reply (no three-digit code, or a code outside 2yz–5yz).",
              reference: "RFC 5321 §4.2"),
        // Syntax and size
        Entry(id: .bareLineEnding, severity: .warning, title: "Bare LF or CR",
              explanation: "Lines end with LF alone (or contain a CR alone). RFC 5321 requires CRLF; servers differ in what they accept, and since the SMTP smuggling disclosures of 2023 many refuse bare LF.",
              reference: "RFC 5321 §2.3.8, §4.1.1.4"),
        Entry(id: .lineTooLong, severity: .warning, title: "Line longer than RFC 5321 allows",
              explanation: "A command or reply line is longer than 512 octets. Inspecting firewalls drop such sessions; servers may cut the line.",
              reference: "RFC 5321 §4.5.3.1.4, §4.5.3.1.5"),
        Entry(id: .nulByte, severity: .warning, title: "NUL byte in a line",
              explanation: "A command or reply contains a NUL byte, which SMTP does not allow; servers and filters disagree on what to do with it, which attackers use to hide commands.",
              reference: "RFC 5321 §4.1.1"),
        Entry(id: .smtpUTF8Missing, severity: .warning, title: "8-bit command without SMTPUTF8",
              explanation: "A command carries non-ASCII bytes (an internationalised address, say) but the transaction did not ask for SMTPUTF8.",
              reference: "RFC 6531 §3.3"),
        Entry(id: .eightBitWithout8BITMIME, severity: .warning, title: "8-bit message without BODY=8BITMIME",
              explanation: "The message content has bytes above 127 (raw UTF-8 or Latin-1 text, an unencoded attachment), but MAIL FROM did not declare BODY=8BITMIME, so it claims to be 7-bit. Servers may refuse it, strip the high bit, or re-encode it and break signatures (DKIM). Where the server offered 8BITMIME it usually takes the message anyway, and this is reported as information; where it did not, as a warning. Make the client declare BODY=8BITMIME when the server offers 8BITMIME, or encode the content as quoted-printable or base64.",
              reference: "RFC 6152 §3; RFC 5321 §2.4"),
        Entry(id: .bdatInvalid, severity: .warning, title: "Invalid BDAT",
              explanation: "A BDAT command has no valid chunk size, so its data cannot be delimited.",
              reference: "RFC 3030 §2"),
        Entry(id: .messageOverSize, severity: .warning, title: "Message larger than the server's SIZE",
              explanation: "The message is larger than the SIZE limit the server announced in its EHLO reply; the server will refuse it.",
              reference: "RFC 1870 §4"),
        // Time and the connection's end
        Entry(id: .longSilence, severity: .warning, title: "Long silence",
              explanation: "Nothing was sent for longer than RFC 5321's timeouts (5 minutes for most commands, 10 for the end of data). One side may time out and close.",
              reference: "RFC 5321 §4.5.3.2"),
        Entry(id: .closedWithoutQuit, severity: .info, title: "Closed without QUIT",
              explanation: "The connection ended without QUIT and 221. Harmless after a delivered message; otherwise the client or the network gave up.",
              reference: "RFC 5321 §4.1.1.10"),
        Entry(id: .rstMidTransaction, severity: .warning, title: "Connection reset during a transaction",
              explanation: "A TCP RST ended the connection while a transaction was open: the message was not delivered.",
              reference: "RFC 9293 §3.5.2"),
        Entry(id: .captureGap, severity: .warning, title: "Bytes missing from the capture",
              explanation: "Part of the dialogue is missing from the capture (packet loss at the capture point, or a snapshot length too small). smtpscope marks what the gap hides as incomplete; capture again with a larger buffer (tcpdump -B) and -s 0.",
              reference: "tcpdump(8) -s, -B"),
        // Intercepted connections
        Entry(id: .interceptedStoreAndForward, severity: .problem, title: "Store-and-forward scanner between client and server",
              explanation: "A middlebox answered DATA itself, held the message and passed it on later, sending commands the client never sent (RSET, NOOP). The client was told its message was accepted before the server had it; the server's log shows commands the client never issued. Anti-virus 'mail shields' do this (Symantec Endpoint Protection, Norton, Avast/AVG, ESET). Turn off outgoing-mail scanning, or exclude the mail server, and capture again.",
              reference: "documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: .interceptedInlineRewriter, severity: .problem, title: "Inline SMTP inspection rewrote the dialogue",
              explanation: "A device on the path changed bytes in place: masked banner, XXXXXXXA instead of STARTTLS, commands overwritten with X. Cisco ASA/PIX ESMTP inspection does this. Disable it for the mail server ('no inspect esmtp').",
              reference: "Cisco ASA ESMTP inspection documentation"),
        Entry(id: .interceptedStarttls, severity: .problem, title: "A middlebox answered STARTTLS",
              explanation: "The client's STARTTLS never reached the server: a middlebox answered it (refusing it), so the session stayed unencrypted.",
              reference: "RFC 3207; documented scanner behaviour"),
        Entry(id: .interceptedTLS, severity: .problem, title: "A middlebox terminated TLS on both legs",
              explanation: "The client's TLS ended at a middlebox, which spoke TLS of its own to the server: the certificate the client got was issued by another CA than the server's (the middlebox's own root, installed on the host), or the server got a ClientHello that is not the client's. Anti-virus mail shields do this to scan encrypted mail (Avast/AVG Mail Shield, ESET SSL/TLS filtering, Kaspersky, Norton); they may also add lines to the message. The client's certificate checks only pass because the shield's root is trusted on the host. Turn off scanning of encrypted mail, or exclude the mail server, and capture again.",
              reference: "documented mail-shield behaviour; Durumeric et al., The Security Impact of HTTPS Interception (NDSS 2017)"),
        Entry(id: .keyLogMatchesNoHandshake, severity: .warning, title: "The key log matches no TLS handshake in the capture",
              explanation: "Keys were given (--keylog, or a pcapng's secrets), but none belongs to a TLS handshake in the capture: every key log line names the ClientHello random of the session it opens, and none of the captured ClientHellos is among them. If the key log was written by the mail client while the capture ran, something between the client and the wire ended the client's TLS and opened TLS of its own — a TLS-intercepting mail shield on the client host (Avast/AVG, ESET, Kaspersky, Norton) does exactly this. Otherwise the key log belongs to other sessions.",
              reference: "RFC 9850 (key log format); Durumeric et al., The Security Impact of HTTPS Interception (NDSS 2017)"),
        Entry(id: .interceptedRelay, severity: .info, title: "Intercepted connection relayed unchanged",
              explanation: "The connection passes through a proxy that relays every line unchanged. Nothing is wrong with the dialogue, but the server sees the proxy's connection, not the client's.",
              reference: "—"),
        Entry(id: .sameConnection, severity: .info, title: "One connection captured at two points: no middlebox",
              explanation: "Two sessions are one TCP connection seen at two capture points (say the workstation and the mail server): the same initial sequence numbers (or, where a firewall rewrote those, the same TCP timestamps in the handshake) and the same bytes. A proxy that intercepts the connection would answer the client's handshake itself and open a connection of its own. Nothing between the two points spoke SMTP; where addresses or ports differ, NAT or a TCP load balancer sits between them. smtpscope measures the offset between the two capture clocks from the lines both copies carry, and says which copy holds bytes the other lost.",
              reference: "RFC 9293 §3.4.1 (initial sequence numbers), RFC 7323 §5.4 (timestamps)"),
        Entry(id: .divergentOutcome, severity: .problem, title: "Client and server disagree on the outcome",
              explanation: "The client was told one thing (e.g. 250 accepted) while the server said another (refused, or never received the message). The middlebox between them wrote the client's reply.",
              reference: "documented scanner behaviour"),
        // The mail server's log against the wire (read --maillog)
        Entry(id: .logCommandsNotSent, severity: .problem, title: "The server logged commands the client never sent",
              explanation: "The mail server's log counts commands on this connection (Postfix's 'disconnect from … rset=2 noop=2' summary, the lines of smtpd -v, Exchange's protocol log) that the captured client did not send: typically RSET and NOOP, and a MAIL/RCPT replayed. With a capture taken at the client, this alone proves a middlebox: something between the capture point and the server spoke SMTP to the server in the client's name. Store-and-forward anti-virus scanners (Symantec's Internet Email Auto-Protect and the like) send RSET where the client sent DATA, NOOPs while they scan, then replay the transaction; the client's own log never shows them. Where the server logged another client port than the capture's, the middlebox opened a connection of its own. Turn off the outgoing-mail scan, or capture on the server too to see both legs.",
              reference: "Postfix smtpd(8) (disconnect summary, -v); documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: .logCommandsNotReceived, severity: .warning, title: "The client sent commands the server never logged",
              explanation: "The captured client sent commands (often STARTTLS) that the server's log does not count for this connection: something between the two answered them itself — a scanner that cannot inspect TLS answers STARTTLS with its own refusal, an inspecting firewall blocks a command. The client's view of the server is then partly the middlebox's.",
              reference: "Postfix smtpd(8) (disconnect summary); documented scanner behaviour"),
        Entry(id: .logReplyNotFromServer, severity: .problem, title: "The client's 250 was not the server's",
              explanation: "The client was told its message was accepted, but the server's log shows that it queued this message (found by queue id, Message-ID or envelope) under another queue id, or only seconds after the client had its 250: the 250 was written by something between the client and the server — a store-and-forward scanner that takes the message, answers for the server and delivers it later. The client can no longer learn the server's real answer; see log-outcome-differs for the case where the server then refused it.",
              reference: "RFC 5321 §4.2.5 (the reply to the end of data is the server's acceptance); documented scanner behaviour"),
        Entry(id: .logOutcomeDiffers, severity: .problem, title: "The server's log and the client disagree on the outcome",
              explanation: "The client was told its message was accepted while the server's log shows it refused it (a header or body check, a milter, a DATA ACL), or the client was refused while the server queued it. With only the client's capture this shows the middlebox that wrote the client's reply, and a message the sender believes delivered that was never accepted: no bounce will come, because the server never took it.",
              reference: "RFC 5321 §4.2.5, §6.1 (responsibility for delivery); documented scanner behaviour"),
        Entry(id: .logDeliveryFailed, severity: .warning, title: "Queued, then not delivered",
              explanation: "The server accepted the message, and its log shows what became of it afterwards: a recipient's delivery was deferred (to be retried) or bounced (given up; the sender gets a bounce). The SMTP dialogue was fine; the problem is further on — the next hop, the mailbox, the content filter. The log line has the reason.",
              reference: "RFC 5321 §4.5.4 (retry), §6.1; Postfix and Exim delivery status logging"),
    ]
}
