/// Something unusual in the traffic: recorded, never thrown. Decoding goes on.
///
/// `name` is a stable kebab-case identifier (listed in docs/output.md) that tests and users can
/// rely on; `detail` is free text for people.
public struct Anomaly: Hashable, Sendable {
    public var name: Name
    public var detail: String
    public var time: Timestamp?

    public init(_ name: Name, _ detail: String = "", at time: Timestamp? = nil) {
        self.name = name
        self.detail = detail
        self.time = time
    }

    /// An anomaly's name: one of the constants below, written out as its `rawValue`. New names
    /// are added here (and to `all` and docs/output.md), never made up where they are reported.
    public struct Name: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static func < (a: Name, b: Name) -> Bool { a.rawValue < b.rawValue }

        // MARK: TCP

        /// A retransmission carried bytes different from the first copy; the first copy was kept.
        public static let tcpRetransmissionInconsistent = Name(rawValue: "tcp-retransmission-inconsistent")

        /// More than 4 MiB was held out of order in one direction; the hole was declared a gap
        /// (`Limits.heldBytesPerDirection`).
        public static let tcpHeldBytesLimit = Name(rawValue: "tcp-held-bytes-limit")

        /// More connections were open than the flow table holds (`Limits.connections`); this one
        /// was closed early (`close` = `table-full`).
        public static let tcpConnectionTableFull = Name(rawValue: "tcp-connection-table-full")

        // MARK: SMTP line

        /// A command or reply line ended with LF alone (RFC 5321 §2.3.8).
        public static let bareLF = Name(rawValue: "bare-lf")

        /// A command or reply line contains a CR not followed by LF (RFC 5321 §2.3.8).
        public static let bareCR = Name(rawValue: "bare-cr")

        /// A command or reply line contains a NUL byte.
        public static let nulByte = Name(rawValue: "nul-byte")

        /// A command line carries bytes ≥ 0x80, allowed only with SMTPUTF8 (RFC 6531 §3.3).
        public static let eightBitCommand = Name(rawValue: "eight-bit-command")

        /// A command line exceeds 512 octets with CRLF (RFC 5321 §4.5.3.1.4).
        public static let commandLineTooLong = Name(rawValue: "command-line-too-long")

        /// A reply line exceeds 512 octets with CRLF (RFC 5321 §4.5.3.1.5).
        public static let replyLineTooLong = Name(rawValue: "reply-line-too-long")

        /// A line exceeds 16 384 bytes; the rest of it was discarded (`Limits.lineBytes`).
        public static let lineOverHardLimit = Name(rawValue: "line-over-hard-limit")

        /// The connection ended inside a client or server line.
        public static let unterminatedLine = Name(rawValue: "unterminated-line")

        /// A command does not parse as its verb requires: `MAIL`/`RCPT` without `FROM:`/`TO:` or
        /// with an unclosed `<`, `BDAT` with bad arguments, `AUTH` without a mechanism.
        public static let malformedCommand = Name(rawValue: "malformed-command")

        /// `BDAT` without a valid chunk size, so its data cannot be delimited (RFC 3030 §2).
        public static let bdatInvalid = Name(rawValue: "bdat-invalid")

        /// A server line does not start with three digits and a space, `-` or the line end (RFC
        /// 5321 §4.2).
        public static let replyMalformed = Name(rawValue: "reply-malformed")

        /// A reply code's first digit is not 2–5 or its second is above 5 (RFC 5321 §4.2).
        public static let replyCodeInvalid = Name(rawValue: "reply-code-invalid")

        /// The lines of a multi-line reply carry different codes (RFC 5321 §4.2.1).
        public static let replyCodeMismatch = Name(rawValue: "reply-code-mismatch")

        /// The message ended with a `.` line ended by LF alone, not `CRLF.CRLF` (RFC 5321
        /// §4.1.1.4).
        public static let bareLFEndOfData = Name(rawValue: "bare-lf-end-of-data")

        /// Lines of a `DATA` message ended with LF alone (RFC 5321 §2.3.8); `detail` gives the
        /// count. A server that accepts them can be tricked by SMTP smuggling.
        public static let bareLFInMessage = Name(rawValue: "bare-lf-in-message")

        /// The header block exceeds 64 KiB; the rest was counted, not parsed
        /// (`Limits.headerBytes`).
        public static let headersTooLarge = Name(rawValue: "headers-too-large")

        // MARK: SMTP dialogue

        /// The client sent commands before the server's greeting (RFC 5321 §3.1).
        public static let clientBeforeGreeting = Name(rawValue: "client-before-greeting")

        /// After `DATA`, `STARTTLS` or `AUTH` the client sent over 64 KiB without waiting for the
        /// reply (RFC 2920 §3.1).
        public static let clientDidNotWait = Name(rawValue: "client-did-not-wait")

        /// A reply arrived when no command was waiting for one.
        public static let replyWithoutCommand = Name(rawValue: "reply-without-command")

        /// The server replied while message data was still coming; the message is marked
        /// incomplete.
        public static let dataEndedByReply = Name(rawValue: "data-ended-by-reply")

        /// After a gap, client lines that were not commands were skipped.
        public static let resyncSkippedLine = Name(rawValue: "resync-skipped-line")

        /// More than 16 AUTH challenge (334) rounds; later lines were read as commands (RFC 4954
        /// §4).
        public static let authRoundsLimit = Name(rawValue: "auth-rounds-limit")

        /// Over 1 000 commands awaited replies; the oldest are no longer matched.
        public static let tooManyPendingCommands = Name(rawValue: "too-many-pending-commands")

        /// The client sent a TLS handshake where a command was due, without an accepted STARTTLS
        /// (RFC 3207); its side is unreadable from there.
        public static let tlsWithoutStartTLS = Name(rawValue: "tls-without-starttls")

        /// The server accepted STARTTLS with 220, but the first bytes after it (the client's; the
        /// server's when the client's are missing) are not a TLS record: the dialogue went on in
        /// clear text and is decoded. Seen in captures exported by TLS-inspecting firewalls (the
        /// decrypted dialogue) and with broken servers. The session's `starttls` is `plaintext`.
        public static let plaintextAfterStartTLS = Name(rawValue: "plaintext-after-starttls")

        /// `MAIL` inside a transaction whose `MAIL` was accepted and whose message was not yet sent
        /// (RFC 5321 §4.1.4). If the server accepts it, a new transaction starts there.
        public static let nestedMail = Name(rawValue: "nested-mail")

        /// Commands still had no reply when the connection ended; `detail` gives the count. Not
        /// reported after TLS or when the server sent nothing.
        public static let commandsNeverAnswered = Name(rawValue: "commands-never-answered")

        /// Only the client's side was captured (and no TLS): no reply can be matched; every
        /// transaction is `incomplete`.
        public static let serverSideMissing = Name(rawValue: "server-side-missing")


        // MARK: TLS (the TLS layer, where TLS is followed)

        /// Bytes that should hold TLS records do not parse as records (bad type, version or length); the rest of that direction is not read.
        public static let tlsRecordGarbled = Name(rawValue: "tls-record-garbled")

        /// A record failed to decrypt or authenticate with the keys given; that direction is reported as encrypted from there.
        public static let tlsDecryptionFailed = Name(rawValue: "tls-decryption-failed")

        /// A handshake message longer than the limit (256 KiB); it is skipped.
        public static let tlsHandshakeMessageTooLong = Name(rawValue: "tls-handshake-message-too-long")

        /// An alert record that is not two bytes long.
        public static let tlsMalformedAlert = Name(rawValue: "tls-malformed-alert")

        /// A handshake message (ClientHello, ServerHello, Certificate…) that could not be parsed.
        public static let tlsMalformedHandshake = Name(rawValue: "tls-malformed-handshake")

        /// Application data sent before the handshake had set up encryption.
        public static let tlsCleartextApplicationData = Name(rawValue: "tls-cleartext-application-data")

        /// A decrypted TLS 1.3 record of an unknown inner content type.
        public static let tlsUnknownContentType = Name(rawValue: "tls-unknown-content-type")

        /// A handshake message of an unknown type.
        public static let tlsUnknownHandshakeType = Name(rawValue: "tls-unknown-handshake-type")

        /// Certificates the server sent that could not be parsed; `detail` says how many.
        public static let tlsCertificateUnparsed = Name(rawValue: "tls-certificate-unparsed")

        /// Every name an anomaly can have, in the order of docs/output.md's table.
        public static let all: [Name] = [
            .tcpRetransmissionInconsistent,
            .tcpHeldBytesLimit,
            .tcpConnectionTableFull,
            .bareLF,
            .bareCR,
            .nulByte,
            .eightBitCommand,
            .commandLineTooLong,
            .replyLineTooLong,
            .lineOverHardLimit,
            .unterminatedLine,
            .malformedCommand,
            .bdatInvalid,
            .replyMalformed,
            .replyCodeInvalid,
            .replyCodeMismatch,
            .bareLFEndOfData,
            .bareLFInMessage,
            .headersTooLarge,
            .clientBeforeGreeting,
            .clientDidNotWait,
            .replyWithoutCommand,
            .dataEndedByReply,
            .resyncSkippedLine,
            .authRoundsLimit,
            .tooManyPendingCommands,
            .tlsWithoutStartTLS,
            .plaintextAfterStartTLS,
            .nestedMail,
            .commandsNeverAnswered,
            .serverSideMissing,
            .tlsRecordGarbled,
            .tlsDecryptionFailed,
            .tlsHandshakeMessageTooLong,
            .tlsMalformedAlert,
            .tlsMalformedHandshake,
            .tlsCleartextApplicationData,
            .tlsUnknownContentType,
            .tlsUnknownHandshakeType,
            .tlsCertificateUnparsed,
        ]
    }
}

/// Which way bytes travel on a connection.
public enum Direction: UInt8, Hashable, Sendable {
    case toServer = 0
    case toClient = 1

    @inlinable public var reversed: Direction { self == .toServer ? .toClient : .toServer }
}

/// Where a packet was seen: which input file (vantage point) and, for pcapng, which interface.
public struct Vantage: Hashable, Sendable, Comparable {
    public var file: Int
    public var interface: Int

    public init(file: Int, interface: Int = 0) {
        self.file = file
        self.interface = interface
    }

    public static func < (a: Vantage, b: Vantage) -> Bool { (a.file, a.interface) < (b.file, b.interface) }
}
