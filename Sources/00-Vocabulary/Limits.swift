/// Every bound smtpscope puts on what it keeps, in one place.
///
/// Capture data is untrusted: each structure that grows with the input has a limit, and crossing
/// it is never silent — it becomes a named anomaly, a close reason or a counted loss, as each
/// constant says. The option structs of the stages (`SMTPDecoder.Options`, `SessionBuilder.Limits`,
/// `ReassemblyLimits`, `FragmentReassembler.Limits`, …) default to these values; tests lower them
/// there to reach the limits with small inputs.
public enum Limits {
    // MARK: IP fragments

    /// IP datagrams being reassembled from fragments at once. Past it the oldest pending datagram
    /// is dropped (counted in the packet statistics); 4096 covers any real capture, where
    /// fragmented TCP is rare, while a flood of first fragments cannot grow the table.
    public static let fragmentDatagrams = 4096

    /// Largest reassembled datagram payload: the IP maximum (RFC 791 total length, 16 bits).
    /// Fragments reaching past it are dropped with their datagram (counted).
    public static let fragmentBytes = 65_535

    /// Seconds of capture time an incomplete datagram waits for its other fragments before it is
    /// dropped (counted). RFC 791 suggests at least 15 seconds; 30 leaves room for slow links.
    public static let fragmentTimeout: Double = 30

    // MARK: TCP reassembly

    /// Bytes held out of order per direction of a connection. Past it the hole before them is
    /// declared a gap and the held bytes are delivered (anomaly `tcp-held-bytes-limit`). 4 MiB is
    /// more than any receive window a capture shows in flight.
    public static let heldBytesPerDirection = 4 << 20

    /// Connections tracked at once. Past it the least recently active one is closed early
    /// (anomaly `tcp-connection-table-full`, close reason `table-full`). 100 000 bounds the flow
    /// table to a few hundred MB even when every connection holds bytes.
    public static let connections = 100_000

    /// Seconds of capture time without a packet before a connection is closed (close reason
    /// `idle`). RFC 5321 §4.5.3.2 lets a server wait 10 minutes for the end of DATA; 15 minutes
    /// keeps such a session whole.
    public static let idleTimeout: Double = 900

    /// Seconds without a packet before a connection is closed in a live capture (`smtpscope live`,
    /// option `--idle-timeout`): shorter than in a file, as memory is held for as long as it runs.
    public static let liveIdleTimeout: Double = 300

    /// Delivered bytes remembered per direction to compare retransmissions against (anomaly
    /// `tcp-retransmission-inconsistent` when they differ). A retransmission usually repeats the
    /// last segment or two; 4096 bytes covers them without copying the stream.
    public static let retransmissionHistory = 4096

    /// An ACK further than this past the next expected byte is taken as bogus (a stray or
    /// corrupt segment), not as acknowledging a hole of that size: no gap is declared for it.
    /// No window is larger (RFC 7323 §2.3 caps it at 1 GiB).
    public static let ackedHole: Int64 = 1 << 30

    // MARK: Content detection

    /// Bytes of each direction looked at on a connection off the SMTP ports before deciding it
    /// does not carry SMTP (its bytes are then not decoded). A greeting and an EHLO, or a proxy
    /// handshake before them, fit in far less.
    public static let contentWindow = 4096

    // MARK: SMTP decoder

    /// Longest line kept whole. Longer lines are cut and the rest discarded up to the line end
    /// (anomaly `line-over-hard-limit`). RFC 5321 §4.5.3.1 allows 512 octets for commands and
    /// replies (`command-line-too-long`, `reply-line-too-long` past that); real traffic exceeds
    /// it, so the hard limit is well above.
    public static let lineBytes = 16 * 1024

    /// Header bytes of a message kept for parsing; the rest is counted, not stored (anomaly
    /// `headers-too-large`). Real header blocks are a few KiB; 64 KiB keeps long Received chains.
    public static let headerBytes = 64 * 1024

    /// Commands awaiting replies before the oldest are no longer matched (anomaly
    /// `too-many-pending-commands`). Zeek uses 1000 too; a pipelining client sends tens.
    public static let pendingCommands = 1000

    /// Client bytes held while waiting for the reply to DATA, STARTTLS or AUTH, and bytes held
    /// after a 220 to STARTTLS until they show whether TLS began. Past it the decoder stops
    /// waiting and assumes the client did not wait either (anomaly `client-did-not-wait`), or
    /// judges STARTTLS's outcome by what it has.
    public static let waitBytes = 64 * 1024

    /// AUTH challenge (334) rounds in one exchange before later lines are read as commands again
    /// (anomaly `auth-rounds-limit`). Real mechanisms take one to three.
    public static let authRounds = 16

    // MARK: Sessions

    /// Timeline lines kept per session; further lines are counted, not stored
    /// (the text output says how many). Bounds the memory of a session that loops on NOOP or RSET.
    public static let timelineEntries = 20_000

    /// Recipients listed per transaction; further ones are counted, not stored.
    public static let recipients = 10_000

    // MARK: Hand-overs between threads (`read`)

    /// Delivered pieces, gaps and ends handed to the SMTP thread at once: large enough that the
    /// hand-over costs little per piece.
    public static let sessionBatch = 1024

    /// Bytes one batch to the SMTP thread holds (it takes one piece of any size when empty), and
    /// how many batches there are: 8 MB in flight, as the SMTP work comes in bursts (long message
    /// bodies) and the TCP thread and the reader go on ahead meanwhile (measured: with 4 MB, a
    /// quarter of the time only one core had work).
    public static let sessionBatchBytes = 1 << 18
    public static let sessionBatches = 32

    /// Packets the reading thread copies into one block (1 MiB, at most 8192 packets; a block
    /// takes one packet of any size when empty), and how many blocks there are: the reader is the
    /// lightest stage and seldom far ahead.
    public static let readBlockBytes = 1 << 20
    public static let readBlockPackets = 8192
    public static let readBlocks = 4

    /// Finished sessions waiting for the judging thread (at 1024, 4 MB more at the peak on the
    /// 1 GB corpus, for no measurable speed).
    public static let judgeQueue = 256

    // MARK: Intercept correlation

    /// Seconds of capture time a finished session stays available for pairing with the other leg
    /// of an intercepted connection. Legs from two captures whose clocks differ by more cannot be
    /// paired; 30 minutes covers clocks set by hand.
    public static let interceptWindow: Double = 1800

    /// Finished sessions held for pairing at most. Past it the oldest go unpaired, so memory
    /// follows the rate of sessions, not the length of the capture.
    public static let interceptSessions = 20_000

    /// Lines of a dialogue aligned line by line when two legs are compared; longer dialogues are
    /// cut (the evidence is in their start, and the alignment costs lines × lines).
    public static let alignedLines = 4000
}

/// `Limits` under a name that a stage's own `Limits` type does not hide (inside
/// `SessionBuilder.Limits`, plain `Limits` means that struct).
public typealias DefaultLimits = Limits
