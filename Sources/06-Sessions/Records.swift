import SMTP
import ServerLog
import Vocabulary

/// Which side wrote a timeline line.
public enum Side: String, Sendable {
    case client, server
}

/// One line of a session's timeline, in wire order.
public struct TimelineEntry: Sendable {
    public enum Kind: Sendable {
        /// A client command (index among the session's commands).
        case command(index: Int, verb: Verb, group: Int)
        /// A server reply, with the command it answers when known.
        case reply(code: Int, answering: Int?)
        /// Message content, summarised.
        case message
        /// TLS started: the handshake's line.
        case tls
        /// Bytes missing from the capture.
        case gap(length: Int)
        /// Something noteworthy, not a line on the wire.
        case note
    }

    public var time: Timestamp
    public var side: Side
    public var kind: Kind
    /// The line as sent (credentials redacted unless asked), or a summary for `message`/`gap`/`tls`.
    public var line: [UInt8]
    /// 1-based transaction this line belongs to; nil for session-level lines.
    public var transaction: Int?
    /// IPv4 TTL / IPv6 hop limit of the packet that carried a reply (0 when unknown).
    public var ttl: UInt8 = 0
    /// IPv4 identification of the packet that carried a reply (nil for IPv6 or when unknown).
    public var ipID: UInt16?
    /// The line was read from decrypted TLS.
    public var decrypted = false
}

/// How a transaction ended.
public enum Outcome: String, Sendable {
    /// The server accepted the message (2xx to the end of data, or to the last BDAT).
    case queued
    /// The server refused MAIL, every RCPT, DATA, or the message.
    case rejected
    /// RSET, or a new EHLO/HELO/STARTTLS, before the message was sent.
    case reset
    /// QUIT, or the connection closed, before the transaction completed.
    case abandoned
    /// The capture ended, or a gap hid the end.
    case incomplete
}

/// A refused recipient.
public struct RejectedRecipient: Sendable, Equatable {
    public var address: String
    public var code: Int
    public init(address: String, code: Int) {
        self.address = address
        self.code = code
    }
}

/// One mail transaction: from MAIL FROM to the reply that decides it (RFC 5321 §3.3).
public struct Transaction: Sendable {
    /// 1-based within its session.
    public var index: Int
    public var session: Int
    public var start: Timestamp
    public var end: Timestamp
    public var helo: String?
    /// Reverse-path without `<>`; "" for the null path.
    public var mailFrom: String?
    public var mailParameters: [(key: String, value: String?)] = []
    /// Accepted recipients, in wire order, without `<>`.
    public var rcptTo: [String] = []
    public var rcptRejected: [RejectedRecipient] = []
    /// Every RCPT TO address sent, in wire order, whatever its reply.
    public var rcptSent: [String] = []
    /// Recipients whose reply was never seen (lost in a gap, or the server side was not captured).
    public var rcptUnanswered: [String] = []
    /// What ended a transaction that was reset: `RSET`, `EHLO`, `HELO`, `STARTTLS` or `MAIL`.
    public var resetBy: ResetCause?
    public var outcome: Outcome = .incomplete
    /// The reply that decided the outcome: to the message, to MAIL, the last RCPT refusal, to DATA,
    /// or to the RSET/EHLO/HELO/STARTTLS that reset the transaction. Nil for abandoned and
    /// incomplete transactions, and for one reset by a new MAIL (that reply belongs to the next one).
    public var reply: Reply?
    public var queueID: String?
    /// Message octets after dot-unstuffing (bytes lost in a gap counted as if present); nil when no
    /// message was sent.
    public var size: Int?
    public var messageComplete = true
    /// The message content has bytes above 127.
    public var eightBitContent = false
    public var headers: MessageHeaders?
    /// The message as sent (dot-unstuffed, BDAT chunks joined), kept only for export.
    public var body: MessageBody?
    /// The message's leaf MIME parts with their sizes and SHA-256, when parts are scanned
    /// (`--attachments`, `--export-dir`); nil otherwise.
    public var parts: [MIMEPart]?
    /// What the mail server's log says of this transaction (`read --maillog`); nil without a log.
    public var serverLog: TransactionLog?
    /// True when the message was sent with BDAT (RFC 3030).
    public var chunked = false
    public var tls = false
    /// True when a gap hid part of the transaction.
    public var gapped = false
    public var anomalies: [Anomaly] = []
}

extension Transaction {
    /// The command that reset a transaction (RFC 5321 §4.1.4, RFC 3207 §4.2); the raw value is
    /// what `reset_by` writes.
    public enum ResetCause: String, Sendable, CaseIterable {
        /// RSET.
        case rset = "RSET"
        /// An EHLO the server accepted.
        case ehlo = "EHLO"
        /// A HELO the server accepted.
        case helo = "HELO"
        /// A STARTTLS the server accepted (220).
        case starttls = "STARTTLS"
        /// A new MAIL: after a refused one, or a nested MAIL the server accepted.
        case mail = "MAIL"
    }
}

/// What a session's TLS handshake said (after STARTTLS, or from the first byte on port 465), read
/// without keys; `decrypted` says whether keys opened its records too.
public struct TLSFacts: Sendable, Equatable {
    /// The server's certificate (the leaf of its chain), where it travelled in clear or was decrypted.
    public struct Certificate: Sendable, Equatable {
        /// Subject distinguished name (`CN=mx.example.org`).
        public var subject: String
        /// Issuer distinguished name.
        public var issuer: String
        public var notBefore: Timestamp
        public var notAfter: Timestamp
        /// subjectAltName entries as text, in order.
        public var san: [String]
        public init(subject: String, issuer: String, notBefore: Timestamp, notAfter: Timestamp, san: [String]) {
            self.subject = subject
            self.issuer = issuer
            self.notBefore = notBefore
            self.notAfter = notAfter
            self.san = san
        }
    }
    /// How a handshake ended.
    public enum Handshake: String, Sendable {
        /// Both Finished messages seen (or, without keys, inferred from the first protected records).
        case complete
        /// A fatal alert, or the connection closed before it finished.
        case failed
        /// The capture ended first.
        case incomplete
    }

    /// The negotiated version (`TLS 1.3`), nil before a ServerHello.
    public var version: String?
    /// The negotiated cipher suite's IANA name.
    public var cipher: String?
    /// The host name the client asked for (SNI).
    public var sni: String?
    /// The ALPN protocol the server selected.
    public var alpn: String?
    /// JA3 (client) and JA3S (server) fingerprints, MD5 hex; JA4 of the client.
    public var ja3: String?
    public var ja3s: String?
    public var ja4: String?
    public var serverCertificate: Certificate?
    public var handshake: Handshake = .incomplete
    /// For a handshake not complete: the last step seen (`after-server-hello`, …).
    public var stoppedAfter: String?
    /// The fatal alert that ended a failed handshake (`handshake_failure`), and who sent it.
    public var alert: String?
    public var alertFrom: Side?
    /// Records of at least one direction were decrypted with the key log.
    public var decrypted = false
    /// The ClientHello's random: what a key log names the session's keys by (not written out).
    public var clientRandom: [UInt8]?
    public init() {}
}

/// STARTTLS on a session (RFC 3207).
public enum StartTLSState: String, Sendable {
    /// Not offered in the EHLO reply, not attempted.
    case none
    /// Offered by the server, not used by the client.
    case offered
    /// The client sent STARTTLS and the server agreed: the rest is encrypted.
    case started
    /// The client sent STARTTLS and the server refused.
    case refused
    /// The server accepted STARTTLS (220) but no TLS handshake followed: the dialogue went on in
    /// clear text (a TLS-inspecting firewall's export of what it decrypted, or a broken server).
    case plaintext
    /// TLS from the first byte (port 465), recognised from the traffic on any port.
    case implicit
}

/// AUTH on a session (RFC 4954): mechanism, user and result; the password only when
/// credentials are shown.
public struct AuthInfo: Sendable {
    public var mechanism: String
    public var user: String?
    /// `success` (235), `failure` (5xx/4xx), `cancelled`, or `unknown` (no reply seen).
    public var result: Result
    /// The password of PLAIN or LOGIN, decoded; only with `--show-credentials`.
    public var password: String?
    /// NTLM: the domain and workstation the AUTHENTICATE message named.
    public var domain: String?
    public var workstation: String?

    public init(mechanism: String, user: String? = nil, result: Result, password: String? = nil, domain: String? = nil, workstation: String? = nil) {
        self.mechanism = mechanism
        self.user = user
        self.result = result
        self.password = password
        self.domain = domain
        self.workstation = workstation
    }

    /// How AUTH ended; the raw value is what `auth.result` writes.
    public enum Result: String, Sendable, CaseIterable {
        /// The server answered 235.
        case success
        /// The server answered 4xx or 5xx.
        case failure
        /// The client answered a challenge with `*` (RFC 4954 §4).
        case cancelled
        /// No deciding reply was seen.
        case unknown
    }
}

/// What the TCP layer saw of one side of a session's connection.
public struct TCPSide: Sendable {
    public var packets = 0
    public var retransmissions = 0
    /// Retransmitted bytes that differed from the first copy.
    public var inconsistentRetransmissions = 0
    public var outOfOrder = 0
    public var keepAlives = 0
    /// IPv4 TTL / IPv6 hop-limit values seen, in order (a second value hints at another writer).
    public var ttls: [UInt8] = []
    /// IPv4 IDs that jumped instead of counting up (another IP stack, or random IDs).
    public var ipIDJumps = 0
    /// Large-send-offload super-frames: packets captured on the sending host before the network
    /// card cut them into segments, read with the frame's length.
    public var offloadFrames = 0
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var timestamps = false
    /// Initial sequence number (from the SYN or SYN-ACK) and the TCP timestamp value it carried
    /// (RFC 7323): the same in every capture of one connection, also where NAT changed the
    /// addresses. Used to recognise one connection captured twice; not written out.
    public var isn: UInt32?
    public var synTimestamp: UInt32?
    public init() {}
}

/// One SMTP session: a TCP connection that carried SMTP.
public struct Session: Sendable {
    public var id: Int
    public var client: Endpoint
    public var server: Endpoint
    public var vantage: Vantage
    /// False when client and server were inferred (no handshake in the capture).
    public var rolesFromHandshake = true
    /// The SOCKS or HTTP CONNECT proxy the SMTP dialogue was tunnelled through: `server` is then
    /// the proxy, and the proxy's target the mail server. Nil for a direct connection.
    public var proxy: ProxyTunnel?
    public var start: Timestamp
    public var end: Timestamp
    public var banner: Reply?
    /// The HELO/EHLO name the server last accepted ("" when accepted without a name).
    public var helo: String?
    public var heloVerb: Verb?
    /// HELO/EHLO attempts the server refused: the name sent ("" for none) and the reply code.
    public var heloRefused: [(name: String, code: Int)] = []
    /// The client sent QUIT (whether or not it was answered).
    public var quitSent = false
    /// EHLO keywords with their parameters, as offered (e.g. `SIZE 10240000`).
    public var extensions: [String] = []
    public var starttls: StartTLSState = .none
    /// The TLS handshake's facts; nil when no TLS began.
    public var tls: TLSFacts?
    public var auth: AuthInfo?
    public var transactions = 0
    /// How the session ended: `quit`, or the TCP close reason (`fin`, `rst`, `idle`, `capture-end`…).
    public var close: CloseReason = .captureEnd
    /// Payload bytes [client→server, server→client], gaps excluded.
    public var bytes = [0, 0]
    /// Gaps [client→server, server→client] and their bytes.
    public var gaps = [0, 0]
    public var gapBytes = [0, 0]
    public var anomalies: [Anomaly] = []
    /// Every line, in wire order (bounded: see `SessionBuilder.Limits`).
    public var timeline: [TimelineEntry] = []
    /// Lines not kept because the timeline limit was reached.
    public var timelineDropped = 0
    /// The handshake round trip seen at the capture point, when the handshake was captured.
    public var handshakeRTT: Double?
    /// The handshake's two halves at the capture point: SYN to SYN-ACK (the server's side of the
    /// round trip) and SYN-ACK to ACK (the client's side). Near the server the second is the
    /// long one; near the client, the first.
    public var handshakeHalves: (server: Double, client: Double)?
    /// TCP facts about each side [client, server], from the reassembler.
    public var tcp: [TCPSide] = [TCPSide(), TCPSide()]
    /// Set on a session decoded from two captures of one connection put together (the copy near
    /// the client, the copy near the server), to fill one copy's gaps from the other.
    public var combinedFrom: [Int]?
    /// The mail server's log of this connection (`read --maillog`); nil without a log.
    public var serverLog: SessionLog?

    public init(id: Int, client: Endpoint, server: Endpoint, vantage: Vantage, start: Timestamp, end: Timestamp) {
        self.id = id
        self.client = client
        self.server = server
        self.vantage = vantage
        self.start = start
        self.end = end
    }
}


extension Session {
    /// The EHLO extension line whose keyword is `keyword` (given in lower case; keywords are
    /// case-insensitive, RFC 5321 §4.1.1.1), e.g. `SIZE 10240000` for "size"; nil when not offered.
    public func offered(_ keyword: StaticString) -> String? {
        extensions.first { line in
            let bytes = line.utf8
            let n = keyword.utf8CodeUnitCount
            guard ASCII.hasPrefix(bytes, lowercased: keyword) else { return false }
            return bytes.count == n || ASCII.isSpace(bytes[bytes.index(bytes.startIndex, offsetBy: n)])
        }
    }
}
