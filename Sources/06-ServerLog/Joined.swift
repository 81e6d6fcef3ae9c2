/// What identified a captured session with a connection in the server's log, strongest first.
public enum LogJoinKey: String, Sendable {
    /// A queue id the capture saw in a `250 … queued as` reply.
    case queueID = "queue-id"
    /// The client's address and port.
    case port = "address-port"
    /// The client's address, and the times overlapping.
    case address = "address-time"
}

/// The server's log of one captured session: the connection it was matched to (nil when none was)
/// and its lines on the capture's clock.
public struct SessionLog: Sendable {
    public var session: LogSession?
    public var key: LogJoinKey?
    /// Log clock minus capture clock, in seconds, as used for the lines' `corrected` times.
    public var offset: Double
    /// The connection's lines and those of its messages, in log order.
    public var lines: [LogLine]
    public init(session: LogSession? = nil, key: LogJoinKey? = nil, offset: Double = 0, lines: [LogLine] = []) {
        self.session = session
        self.key = key
        self.offset = offset
        self.lines = lines
    }
}

/// The server's log of one captured transaction: the queued message it was matched to, and the
/// lines about it (the message's, and the refusals of its recipients).
public struct TransactionLog: Sendable {
    /// How the message was found: `queue-id`, `message-id`, `envelope`.
    public var key: String?
    public var message: LogMessage?
    public var lines: [LogLine]
    public init(key: String? = nil, message: LogMessage? = nil, lines: [LogLine] = []) {
        self.key = key
        self.message = message
        self.lines = lines
    }
}
