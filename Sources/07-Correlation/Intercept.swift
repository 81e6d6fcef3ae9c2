import Vocabulary
import Sessions

/// Two (or more) sessions found to be the legs of one intercepted connection, and what the
/// middlebox between them did, line by line.
public struct Intercept: Sendable {
    /// What the middlebox did with one line.
    public enum Kind: String, Sendable {
        /// Passed on unchanged (with the delay the middlebox added).
        case relayed
        /// Sent on one leg with no counterpart on the other: the middlebox wrote it.
        case injected
        /// A reply the middlebox wrote itself instead of relaying the server's.
        case synthesized
        /// A client command never passed on.
        case withheld
        /// Passed on with its bytes changed.
        case rewritten
        /// The message passed on only after the client had finished sending it (store and forward).
        case held
        /// The two legs ended differently: the client was told one thing, the server said another.
        case divergent
    }

    public struct Action: Sendable {
        public var kind: Kind
        /// The leg the line was seen on.
        public var leg: Side
        /// When, on that leg's own clock.
        public var time: Timestamp
        /// When, on the client leg's clock (server-leg times corrected by the clock offset).
        public var clientClockTime: Timestamp
        public var line: [UInt8]
        /// The corresponding line on the other leg, if any.
        public var counterpart: [UInt8]?
        /// Seconds the middlebox took (relayed, rewritten, held).
        public var delay: Double?
        /// A word of explanation, e.g. "replay of the client's command".
        public var note: String?
        /// True for a reply line (shown flowing towards the client), false for a command.
        public var isReply: Bool
        /// The reply code of a reply line (nil for commands and messages).
        public var code: Int? = nil
        /// True when the line stands for a message (`▸ message N octets …`), not a command.
        public var isMessage = false
        /// True for a server-leg command that repeats one the client sent earlier (a replay).
        public var isReplay = false
        /// Where the line is in its leg's timeline: the wire order of lines with one timestamp.
        public var position = 0
    }

    /// Clock relation between the legs: server-leg time minus client-leg time of the same instant.
    public struct ClockOffset: Sendable {
        public var seconds: Double
        /// Half the width of the interval the offset was bound to by causality.
        public var uncertainty: Double
        /// True when both legs come from one capture and one clock: no correction applied.
        public var sameClock: Bool
        /// How fast the server-leg capture's clock runs against the client-leg one, in parts per
        /// million, fitted over every intercept between the same two captures; nil when fewer than
        /// two intercepts span at least a second.
        public var driftPPM: Double?
    }

    /// Capture files (vantage points) of the client leg and of the server leg(s).
    public var clientCapture: Vantage
    public var serverCapture: Vantage
    /// The legs' session numbers, as the run that read each leg's capture numbered them.
    public var clientLeg: Int
    public var serverLegs: [Int]
    /// The legs' ids in the finder (client leg first): what it lets go of once they are paired.
    var legIDs: [Int]
    public var clientEndpoints: (client: Endpoint, server: Endpoint)
    public var serverEndpoints: [(client: Endpoint, server: Endpoint)]
    public var start: Timestamp
    public var score: Int
    public var evidence: [String]
    public var clock: ClockOffset
    public var verdict: Verdict
    public var actions: [Action]
}

extension Intercept {
    /// What the middlebox did, as facts (see `Attribution.verdict`); `description` says it in one
    /// sentence. Findings switch over `kind`; no module reads the sentence.
    public struct Verdict: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            /// Answered DATA itself or held the message: an anti-virus style scanner.
            case storeAndForward = "store-and-forward"
            /// Changed bytes in place (banner, STARTTLS, commands): SMTP inspection on a firewall.
            case inlineInspection = "inline-inspection"
            /// Answered STARTTLS itself.
            case starttlsAnswered = "starttls-answered"
            /// Terminated TLS on both legs: a certificate or a ClientHello of its own.
            case tlsInterception = "tls-interception"
            /// Every line passed on unchanged.
            case transparentRelay = "transparent-relay"
            /// Something else: lines rewritten, kept back or written by the middlebox.
            case other
        }
        public var kind: Kind
        /// Store and forward: the middlebox's own 354; how long it held the message; the
        /// commands it sent the client never sent (verb, count); whether it replayed the
        /// transaction; whether the client was told "accepted" before the server had the message.
        public var answeredData = false
        public var heldFor: Double?
        public var injected: [(verb: String, count: Int)] = []
        public var replayed = false
        public var acceptedEarly = false
        /// Inline inspection: banner masked, STARTTLS replaced by XXXXXXXA, commands overwritten.
        public var maskedBanner = false
        public var maskedStartTLS = false
        public var overwritten: [[UInt8]] = []
        /// STARTTLS answered by the middlebox; other client lines it kept back.
        public var answeredStartTLS = false
        public var keptBack: [[UInt8]] = []
        /// The 221 the client got was the middlebox's own.
        public var ownGoodbye = false
        /// Each divergent outcome, in words.
        public var divergences: [String] = []
        /// How messages were changed on the way (`size 323 → 356 octets`), one entry a message.
        public var rewroteMessages: [String] = []
        /// TLS terminated by the middlebox: what differs between the legs' handshakes (the
        /// certificate's issuer the client got and the server's; the client's ClientHello
        /// fingerprint and the one the server got), nil when the legs agree or have no TLS.
        public var tlsInterception: TLSInterception?

        public struct TLSInterception: Sendable {
            public var clientLegIssuer: String?
            public var serverLegIssuer: String?
            public var clientLegJA3: String?
            public var serverLegJA3: String?
        }
        /// Median delay the middlebox added to the lines it relayed.
        public var medianRelayDelay = 0.0

        public var description: String { Attribution.sentence(self) }
    }
}
