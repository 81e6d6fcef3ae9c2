extension Anomaly {
    /// What an anomaly name means, for `smtpscope explain`: the layer that reports it and one
    /// paragraph, the same words as the table in docs/output.md (a test holds the two together).
    public struct AnomalyInfo: Sendable {
        public var name: Name
        /// `TCP`, `SMTP line`, `SMTP dialogue` or `TLS`.
        public var layer: String
        /// Markdown as in docs/output.md (code in backquotes).
        public var meaning: String
    }

    /// Every anomaly name with its meaning, in the order of docs/output.md.
    public static let catalog: [AnomalyInfo] = [
        AnomalyInfo(name: .tcpRetransmissionInconsistent, layer: "TCP", meaning: "A retransmission carried bytes different from the first copy; the first copy was kept."),
        AnomalyInfo(name: .tcpHeldBytesLimit, layer: "TCP", meaning: "More than 4 MiB was held out of order in one direction; the hole was declared a gap."),
        AnomalyInfo(name: .tcpConnectionTableFull, layer: "TCP", meaning: "More than 100 000 connections were open; this one was closed early (`close` = `table-full`)."),
        AnomalyInfo(name: .bareLF, layer: "SMTP line", meaning: "A command or reply line ended with LF alone (RFC 5321 §2.3.8)."),
        AnomalyInfo(name: .bareCR, layer: "SMTP line", meaning: "A command or reply line contains a CR not followed by LF (RFC 5321 §2.3.8)."),
        AnomalyInfo(name: .nulByte, layer: "SMTP line", meaning: "A command or reply line contains a NUL byte."),
        AnomalyInfo(name: .eightBitCommand, layer: "SMTP line", meaning: "A command line carries bytes ≥ 0x80, allowed only with SMTPUTF8 (RFC 6531 §3.3)."),
        AnomalyInfo(name: .commandLineTooLong, layer: "SMTP line", meaning: "A command line exceeds 512 octets with CRLF (RFC 5321 §4.5.3.1.4)."),
        AnomalyInfo(name: .replyLineTooLong, layer: "SMTP line", meaning: "A reply line exceeds 512 octets with CRLF (RFC 5321 §4.5.3.1.5)."),
        AnomalyInfo(name: .lineOverHardLimit, layer: "SMTP line", meaning: "A line exceeds 16 384 bytes; the rest of it was discarded."),
        AnomalyInfo(name: .unterminatedLine, layer: "SMTP line", meaning: "The connection ended inside a client or server line."),
        AnomalyInfo(name: .malformedCommand, layer: "SMTP line", meaning: "A command does not parse as its verb requires: `MAIL`/`RCPT` without `FROM:`/`TO:` or with an unclosed `<`, `BDAT` with bad arguments, `AUTH` without a mechanism."),
        AnomalyInfo(name: .bdatInvalid, layer: "SMTP line", meaning: "`BDAT` without a valid chunk size, so its data cannot be delimited (RFC 3030 §2)."),
        AnomalyInfo(name: .replyMalformed, layer: "SMTP line", meaning: "A server line does not start with three digits and a space, `-` or the line end (RFC 5321 §4.2)."),
        AnomalyInfo(name: .replyCodeInvalid, layer: "SMTP line", meaning: "A reply code's first digit is not 2–5 or its second is above 5 (RFC 5321 §4.2)."),
        AnomalyInfo(name: .replyCodeMismatch, layer: "SMTP line", meaning: "The lines of a multi-line reply carry different codes (RFC 5321 §4.2.1)."),
        AnomalyInfo(name: .bareLFEndOfData, layer: "SMTP line", meaning: "The message ended with a `.` line ended by LF alone, not `CRLF.CRLF` (RFC 5321 §4.1.1.4)."),
        AnomalyInfo(name: .bareLFInMessage, layer: "SMTP line", meaning: "Lines of the message content (sent with `DATA`) ended with LF alone (RFC 5321 §2.3.8); `detail` gives how many. Servers that accept them can be tricked by SMTP smuggling."),
        AnomalyInfo(name: .headersTooLarge, layer: "SMTP line", meaning: "The header block exceeds 64 KiB; the rest was counted, not parsed."),
        AnomalyInfo(name: .clientBeforeGreeting, layer: "SMTP dialogue", meaning: "The client sent commands before the server's greeting (RFC 5321 §3.1)."),
        AnomalyInfo(name: .clientDidNotWait, layer: "SMTP dialogue", meaning: "After `DATA`, `STARTTLS` or `AUTH` the client sent over 64 KiB without waiting for the reply (RFC 2920 §3.1)."),
        AnomalyInfo(name: .replyWithoutCommand, layer: "SMTP dialogue", meaning: "A reply arrived when no command was waiting for one."),
        AnomalyInfo(name: .dataEndedByReply, layer: "SMTP dialogue", meaning: "The server replied while message data was still coming; the message is marked incomplete."),
        AnomalyInfo(name: .resyncSkippedLine, layer: "SMTP dialogue", meaning: "After a gap, client lines that were not commands were skipped."),
        AnomalyInfo(name: .authRoundsLimit, layer: "SMTP dialogue", meaning: "More than 16 AUTH challenge (334) rounds; later lines were read as commands (RFC 4954 §4)."),
        AnomalyInfo(name: .tooManyPendingCommands, layer: "SMTP dialogue", meaning: "Over 1 000 commands awaited replies; the oldest are no longer matched."),
        AnomalyInfo(name: .tlsWithoutStartTLS, layer: "SMTP dialogue", meaning: "The client sent a TLS handshake where a command was due, without an accepted STARTTLS (RFC 3207); its side is unreadable from there."),
        AnomalyInfo(name: .plaintextAfterStartTLS, layer: "SMTP dialogue", meaning: "The server accepted STARTTLS with 220, but the first bytes after it (the client's; the server's when the client's are missing) are not a TLS record: the dialogue went on in clear text and is decoded. Seen in captures exported by TLS-inspecting firewalls (the decrypted dialogue) and with broken servers. The session's `starttls` is `plaintext`."),
        AnomalyInfo(name: .nestedMail, layer: "SMTP dialogue", meaning: "`MAIL` inside a transaction whose `MAIL` was accepted and whose message was not yet sent (RFC 5321 §4.1.4). If the server accepts it, a new transaction starts there."),
        AnomalyInfo(name: .commandsNeverAnswered, layer: "SMTP dialogue", meaning: "Commands still had no reply when the connection ended; `detail` gives the count. Not reported after TLS or when the server sent nothing."),
        AnomalyInfo(name: .serverSideMissing, layer: "SMTP dialogue", meaning: "Only the client's side was captured (and no TLS): no reply can be matched; every transaction is `incomplete`."),
        AnomalyInfo(name: .tlsRecordGarbled, layer: "TLS", meaning: "Bytes that should hold TLS records do not parse as records (bad type, version or length); the rest of that direction is not read."),
        AnomalyInfo(name: .tlsDecryptionFailed, layer: "TLS", meaning: "A record failed to decrypt or authenticate with the keys given; that direction is reported as encrypted from there."),
        AnomalyInfo(name: .tlsHandshakeMessageTooLong, layer: "TLS", meaning: "A handshake message longer than the limit (256 KiB); it is skipped."),
        AnomalyInfo(name: .tlsMalformedAlert, layer: "TLS", meaning: "An alert record that is not two bytes long."),
        AnomalyInfo(name: .tlsMalformedHandshake, layer: "TLS", meaning: "A handshake message (ClientHello, ServerHello, Certificate…) that could not be parsed."),
        AnomalyInfo(name: .tlsCleartextApplicationData, layer: "TLS", meaning: "Application data sent before the handshake had set up encryption."),
        AnomalyInfo(name: .tlsUnknownContentType, layer: "TLS", meaning: "A decrypted TLS 1.3 record of an unknown inner content type."),
        AnomalyInfo(name: .tlsUnknownHandshakeType, layer: "TLS", meaning: "A handshake message of an unknown type."),
        AnomalyInfo(name: .tlsCertificateUnparsed, layer: "TLS", meaning: "Certificates the server sent that could not be parsed; `detail` says how many."),
    ]

    /// The entry for `name`, if it is an anomaly's name.
    public static func info(_ name: Name) -> AnomalyInfo? { catalog.first { $0.name == name } }
}
