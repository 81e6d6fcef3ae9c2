import Vocabulary

/// The mail server that wrote a log line, as told by the line's form and program name.
public enum LogFormat: String, Sendable {
    /// Postfix through syslog, journald or its own `maillog_file`.
    case postfix
    /// Exim's main log (or Exim through syslog).
    case exim
    /// Sendmail through syslog.
    case sendmail
    /// Microsoft Exchange's SMTP receive protocol log (CSV).
    case exchange
}

/// The client as a log line names it: `name[192.0.2.10]:38088` (Postfix), `H=(helo) [192.0.2.10]:38088`
/// (Exim), `relay=name [192.0.2.10]` (Sendmail), `192.0.2.10:38088` (Exchange).
public struct LogClient: Sendable, Equatable {
    /// The host name the server found for the client (`unknown` when it found none).
    public var name: String?
    public var address: IPAddress?
    /// Written only where the server logs it (Postfix `smtpd_client_port_logging`, Exim
    /// `+incoming_port`, Exchange always).
    public var port: UInt16?
    public init(name: String? = nil, address: IPAddress? = nil, port: UInt16? = nil) {
        self.name = name
        self.address = address
        self.port = port
    }
}

/// One count of Postfix's `disconnect from` summary: `mail=1/2` is 1 accepted of 2 received.
public struct CommandCount: Sendable, Equatable {
    /// The command in lower case as Postfix writes it (`ehlo`, `rset`, `unknown`…).
    public var name: String
    public var accepted: Int
    public var total: Int
    public init(name: String, accepted: Int, total: Int) {
        self.name = name
        self.accepted = accepted
        self.total = total
    }
}

/// What happened to a message after the server queued it, per recipient.
public enum DeliveryStatus: String, Sendable {
    /// Delivered (or handed to the next hop).
    case sent
    /// Not delivered yet; will be retried.
    case deferred
    /// Given up on; a bounce goes to the sender.
    case bounced
    /// Some other word (`expired`, `deliverable`…).
    case other
}

/// What a log line says, as far as smtpscope reads it.
public enum LogEvent: Sendable {
    /// A client connected.
    case connect(LogClient)
    /// A client disconnected; Postfix adds the commands it received (`ehlo=1 mail=2 … commands=9`).
    case disconnect(LogClient, counts: [CommandCount])
    /// The connection broke (`lost connection after DATA`, `timeout after RCPT`).
    case lostConnection(LogClient?, after: String)
    /// A queue id was given to a message from this client (Postfix `client=`).
    case client(LogClient)
    /// The message's Message-ID header.
    case messageID(String)
    /// The envelope sender (and size) of a queued message; for Exim and Sendmail the arrival, with
    /// the client and the Message-ID when the line names them.
    case arrival(from: String, size: Int?, client: LogClient?, messageID: String?)
    /// A delivery attempt's result for one recipient.
    case delivery(to: String, status: DeliveryStatus, dsn: String?, relay: String?, detail: String?)
    /// The server refused something: `stage` is what (`RCPT`, `DATA`, `END-OF-MESSAGE`, `header`…),
    /// `code` the reply code when written, `from` and `to` the envelope when named.
    case reject(stage: String, code: Int?, text: String, client: LogClient?, from: String?, to: String?)
    /// A command line the server received (Postfix `smtpd -v`, Exchange `<`).
    case command(LogClient?, String)
    /// A reply line the server sent (Postfix `smtpd -v`, Exchange `>`).
    case reply(LogClient?, String)
    /// The message left the queue (Postfix `removed`, Exim `Completed`).
    case removed
    /// Internal tracing of a verbose server (`smtpd -v`): kept out of the joined lines.
    case debug
    /// A line of the server that says nothing smtpscope reads (TLS established, warnings…).
    case other
}

/// One line of a mail server's log, read.
public struct LogLine: Sendable {
    /// Which of the `--maillog` files (0-based) and which line of it (1-based).
    public var file: Int
    public var number: Int
    /// When the line was written, by the log host's clock. Times without a zone are read as UTC;
    /// times without a year get one when the join knows the capture's (see `ServerLog.resolveYears`).
    public var time: Timestamp
    /// The same time on the capture's clock (the log host's offset taken away), set by the join.
    public var corrected: Timestamp
    /// Whole seconds only: the log's times may be up to a second earlier than the event.
    public var wholeSeconds: Bool
    /// The syslog host name, when written.
    public var host: String?
    /// The program (`postfix/smtpd`, `exim`, `sendmail`, `MSExchangeFrontEndTransport`).
    public var program: String?
    public var pid: Int?
    /// The queue id the line is about (Postfix `4F3B2A17:`, Exim `1pgobK-001mwq-ED`, Sendmail
    /// `x8M1l2Jb012345:`, Exchange's session id).
    public var queueID: String?
    /// The line as read, without its line end.
    public var text: String
    /// The part after the time, host and program (for Exchange: the event and its data).
    public var message: String
    public var format: LogFormat
    public var event: LogEvent
    /// For a line without a year: month, day and nanoseconds into the day, to place it once the
    /// year is known.
    var yearless: (month: Int, day: Int, nanos: Int64)?
}
