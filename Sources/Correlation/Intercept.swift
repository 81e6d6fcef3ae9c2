import ScopeCore
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
    public var clientLeg: Int
    public var serverLegs: [Int]
    public var clientEndpoints: (client: Endpoint, server: Endpoint)
    public var serverEndpoints: [(client: Endpoint, server: Endpoint)]
    public var start: Timestamp
    public var score: Int
    public var evidence: [String]
    public var clock: ClockOffset
    public var verdict: String
    public var actions: [Action]
}
