/// Every finding smtpscope knows: severity, one-line title, the long explanation `smtpscope
/// explain` prints, and the reference (RFC section or documented product behaviour).
public enum Catalog {
    public struct Entry: Sendable {
        public var id: String
        public var severity: Severity
        public var title: String
        public var explanation: String
        public var reference: String
    }

    public static func entry(_ id: String) -> Entry? { byID[id] }

    static let byID: [String: Entry] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    public static let all: [Entry] = [
        // Greeting
        Entry(id: "helo-without-hostname", severity: .warning, title: "HELO/EHLO without a host name",
              explanation: "The client sent HELO or EHLO with no host name. RFC 5321 requires one (a domain or an address literal such as [192.0.2.10]); most servers refuse the command with 501, and a client that does not then retry cannot send mail at all. Seen with closed-source clients and embedded devices. Fix the client's configuration (its host or domain name setting); as a stop-gap, the server can be told to accept it (Postfix: smtpd_helo_required = no and no reject_invalid_helo_hostname).",
              reference: "RFC 5321 §4.1.1.1"),
        Entry(id: "helo-refused-client-gave-up", severity: .problem, title: "HELO/EHLO refused and the client gave up",
              explanation: "The server refused the client's greeting and the client closed the session without trying again (with a valid name, or HELO after a refused EHLO). No mail can pass. Look at the name the client sends and at the server's HELO restrictions.",
              reference: "RFC 5321 §4.1.1.1, §3.2"),
        Entry(id: "ehlo-refused-no-helo", severity: .warning, title: "EHLO refused and HELO never tried",
              explanation: "RFC 5321 asks a client whose EHLO is refused to fall back to HELO. This client did not. The session went on without a successful greeting, or ended.",
              reference: "RFC 5321 §3.2"),
        Entry(id: "helo-literal-mismatch", severity: .info, title: "Address literal in HELO is not the client's address",
              explanation: "The client greeted with an address literal, e.g. EHLO [192.0.2.10], that is not the address its packets came from: it is behind NAT, or a proxy relays it. Harmless in itself; it tells where the connection really comes from.",
              reference: "RFC 5321 §4.1.3, §4.1.4"),
        // RSET and NOOP patterns
        Entry(id: "rset-after-recipients", severity: .warning, title: "RSET right after accepted recipients",
              explanation: "Recipients were accepted, and instead of DATA the next command was RSET: the message was not sent in this transaction. A client rarely does this on its own. Anti-virus software that proxies outgoing SMTP (e.g. Symantec Endpoint Protection's Internet Email Auto-Protect) sends RSET on the server side while it takes the message from the client, then replays the transaction; the server's log then shows RSETs the client never sent. Capture on the client and on the server to see both legs.",
              reference: "RFC 5321 §4.1.1.5; documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: "rset-connection-reuse", severity: .info, title: "RSET before MAIL on a reused connection",
              explanation: "After a delivered message the client sent RSET and then a new MAIL FROM on the same connection. This is connection caching (Postfix's SMTP client does it to check the cached connection): benign.",
              reference: "RFC 5321 §4.1.1.5; Postfix connection cache"),
        Entry(id: "rset-burst", severity: .warning, title: "Several RSETs in a row",
              explanation: "The client sent RSET several times with nothing in between. Real clients do not need more than one; a proxy keeping a connection busy does this.",
              reference: "RFC 5321 §4.1.1.5"),
        Entry(id: "transaction-replayed", severity: .warning, title: "The same transaction replayed",
              explanation: "A transaction that was reset was sent again on the same connection with the same sender and recipients. A store-and-forward scanner replays the transaction once it has taken the message from the client.",
              reference: "documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: "noop-keepalive", severity: .warning, title: "NOOPs while a transaction waits",
              explanation: "The client sent NOOP repeatedly in the middle of a transaction. A proxy does this to keep the server connection open while it holds the message (scanning it, or waiting for the client's QUIT).",
              reference: "RFC 5321 §4.1.1.9; documented scanner behaviour"),
        // Answers from somewhere else
        Entry(id: "fast-reply", severity: .warning, title: "A reply came faster than the server answers",
              explanation: "The reply to DATA or to the end of the message arrived faster than a round trip to the server takes (measured on the TCP handshake at the capture point). The server cannot have written it: something nearer did — a proxy that answers DATA itself and holds the message.",
              reference: "documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: "ttl-mismatch", severity: .warning, title: "Replies from another host",
              explanation: "Some of the server's replies arrived with a different IP TTL (hop limit) than its banner: another host wrote them into the connection.",
              reference: "RFC 791 §3.2 (TTL); RFC 8200 §3 (hop limit)"),
        // Inspecting firewalls
        Entry(id: "banner-masked", severity: .problem, title: "Banner masked with asterisks",
              explanation: "The server's greeting text is all asterisks. An inspecting firewall (Cisco ASA/PIX 'inspect esmtp' / Mailguard) rewrites the banner this way. It also hides STARTTLS and blocks some commands. Consider disabling ESMTP inspection for the mail server.",
              reference: "Cisco ASA ESMTP inspection documentation"),
        Entry(id: "starttls-masked", severity: .problem, title: "STARTTLS hidden as XXXXXXXA",
              explanation: "The EHLO reply lists XXXXXXXA where STARTTLS would be: something on the path overwrote the keyword (Cisco ESMTP inspection does; some ISPs did at scale), so the client cannot encrypt.",
              reference: "RFC 3207; Cisco ASA ESMTP inspection; EFF reports on STARTTLS stripping"),
        Entry(id: "command-masked", severity: .warning, title: "A command overwritten with X",
              explanation: "A client command reached the server as a run of X of the same length: an inspecting firewall blocked it in place. The server answers 500 command not recognized.",
              reference: "Cisco ASA ESMTP inspection documentation"),
        // STARTTLS
        Entry(id: "starttls-not-used", severity: .info, title: "STARTTLS offered but not used",
              explanation: "The server offered STARTTLS and the client sent mail in the clear anyway.",
              reference: "RFC 3207 §4"),
        Entry(id: "starttls-refused", severity: .warning, title: "STARTTLS refused",
              explanation: "The client asked for TLS and the server refused. Mail then goes unencrypted or not at all.",
              reference: "RFC 3207 §4"),
        Entry(id: "starttls-answer-inconsistent", severity: .problem, title: "STARTTLS offered, then called unknown",
              explanation: "The server offered STARTTLS in its EHLO reply but answered STARTTLS as an unknown or unsupported command. A server does not contradict itself like this: a proxy between them answered STARTTLS (anti-virus mail scanners that cannot read TLS do), and the session stayed unencrypted.",
              reference: "RFC 3207 §4; documented scanner behaviour"),
        // Pipelining and matching
        Entry(id: "pipelining-not-offered", severity: .warning, title: "Pipelining without PIPELINING",
              explanation: "The client sent several commands without waiting for replies, but the server did not offer PIPELINING. Servers may drop or misread the extra commands.",
              reference: "RFC 2920 §3.1"),
        Entry(id: "commands-after-data", severity: .warning, title: "Commands sent after DATA without waiting",
              explanation: "The client kept sending after DATA instead of waiting for the 354. DATA must end a pipelined group; what follows is read as message content if the server says 354.",
              reference: "RFC 2920 §3.1"),
        Entry(id: "reply-without-command", severity: .warning, title: "A reply with no command",
              explanation: "The server sent a reply no command was waiting for: the capture missed a command, or something injected the reply.",
              reference: "RFC 5321 §4.2"),
        Entry(id: "commands-never-answered", severity: .warning, title: "Commands never answered",
              explanation: "Some commands got no reply before the connection ended: the server stopped answering, or the replies were lost before the capture point.",
              reference: "RFC 5321 §4.2, §4.5.3.2"),
        Entry(id: "invalid-reply", severity: .warning, title: "Malformed or invalid reply",
              explanation: "A server line is not a valid reply (no three-digit code, or a code outside 2yz–5yz).",
              reference: "RFC 5321 §4.2"),
        // Syntax and size
        Entry(id: "bare-line-ending", severity: .warning, title: "Bare LF or CR",
              explanation: "Lines end with LF alone (or contain a CR alone). RFC 5321 requires CRLF; servers differ in what they accept, and since the SMTP smuggling disclosures of 2023 many refuse bare LF.",
              reference: "RFC 5321 §2.3.8, §4.1.1.4"),
        Entry(id: "line-too-long", severity: .warning, title: "Line longer than RFC 5321 allows",
              explanation: "A command or reply line is longer than 512 octets. Inspecting firewalls drop such sessions; servers may cut the line.",
              reference: "RFC 5321 §4.5.3.1.4, §4.5.3.1.5"),
        Entry(id: "nul-byte", severity: .warning, title: "NUL byte in a line",
              explanation: "A command or reply contains a NUL byte, which SMTP does not allow; servers and filters disagree on what to do with it, which attackers use to hide commands.",
              reference: "RFC 5321 §4.1.1"),
        Entry(id: "smtputf8-missing", severity: .warning, title: "8-bit command without SMTPUTF8",
              explanation: "A command carries non-ASCII bytes (an internationalised address, say) but the transaction did not ask for SMTPUTF8.",
              reference: "RFC 6531 §3.3"),
        Entry(id: "bdat-invalid", severity: .warning, title: "Invalid BDAT",
              explanation: "A BDAT command has no valid chunk size, so its data cannot be delimited.",
              reference: "RFC 3030 §2"),
        Entry(id: "message-over-size", severity: .warning, title: "Message larger than the server's SIZE",
              explanation: "The message is larger than the SIZE limit the server announced in its EHLO reply; the server will refuse it.",
              reference: "RFC 1870 §4"),
        // Time and the connection's end
        Entry(id: "long-silence", severity: .warning, title: "Long silence",
              explanation: "Nothing was sent for longer than RFC 5321's timeouts (5 minutes for most commands, 10 for the end of data). One side may time out and close.",
              reference: "RFC 5321 §4.5.3.2"),
        Entry(id: "closed-without-quit", severity: .info, title: "Closed without QUIT",
              explanation: "The connection ended without QUIT and 221. Harmless after a delivered message; otherwise the client or the network gave up.",
              reference: "RFC 5321 §4.1.1.10"),
        Entry(id: "rst-mid-transaction", severity: .warning, title: "Connection reset during a transaction",
              explanation: "A TCP RST ended the connection while a transaction was open: the message was not delivered.",
              reference: "RFC 9293 §3.5.2"),
        Entry(id: "capture-gap", severity: .warning, title: "Bytes missing from the capture",
              explanation: "Part of the dialogue is missing from the capture (packet loss at the capture point, or a snapshot length too small). smtpscope marks what the gap hides as incomplete; capture again with a larger buffer (tcpdump -B) and -s 0.",
              reference: "tcpdump(8) -s, -B"),
        // Intercepted connections
        Entry(id: "intercepted-store-and-forward", severity: .problem, title: "Store-and-forward scanner between client and server",
              explanation: "A middlebox answered DATA itself, held the message and passed it on later, sending commands the client never sent (RSET, NOOP). The client was told its message was accepted before the server had it; the server's log shows commands the client never issued. Anti-virus 'mail shields' do this (Symantec Endpoint Protection, Norton, Avast/AVG, ESET). Turn off outgoing-mail scanning, or exclude the mail server, and capture again.",
              reference: "documented scanner behaviour (serverfault.com question 695335; Broadcom KB 177773)"),
        Entry(id: "intercepted-inline-rewriter", severity: .problem, title: "Inline SMTP inspection rewrote the dialogue",
              explanation: "A device on the path changed bytes in place: masked banner, XXXXXXXA instead of STARTTLS, commands overwritten with X. Cisco ASA/PIX ESMTP inspection does this. Disable it for the mail server ('no inspect esmtp').",
              reference: "Cisco ASA ESMTP inspection documentation"),
        Entry(id: "intercepted-starttls", severity: .problem, title: "A middlebox answered STARTTLS",
              explanation: "The client's STARTTLS never reached the server: a middlebox answered it (refusing it), so the session stayed unencrypted.",
              reference: "RFC 3207; documented scanner behaviour"),
        Entry(id: "intercepted-relay", severity: .info, title: "Intercepted connection relayed unchanged",
              explanation: "The connection passes through a proxy that relays every line unchanged. Nothing is wrong with the dialogue, but the server sees the proxy's connection, not the client's.",
              reference: "—"),
        Entry(id: "divergent-outcome", severity: .problem, title: "Client and server disagree on the outcome",
              explanation: "The client was told one thing (e.g. 250 accepted) while the server said another (refused, or never received the message). The middlebox between them wrote the client's reply.",
              reference: "documented scanner behaviour"),
    ]
}
