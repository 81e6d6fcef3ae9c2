import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sans-I/O SMTP dialogue decoder: the two directions of one connection go in (in the order they
/// were sent, as the reassembler delivers them), `SMTPEvent`s come out in `events`.
///
/// It frames lines, parses commands and multi-line replies, matches each reply to the command it
/// answers (in order, as PIPELINING requires, RFC 2920 §3), follows DATA and BDAT message content,
/// AUTH challenge rounds and STARTTLS, and resynchronises after gaps. Bad traffic becomes named
/// anomalies; nothing here throws.
///
/// Everything that changes the decoder's state is in this file. Each side has one state
/// (`ClientState`, `ServerState`) whose cases say how they are entered; the few facts that span
/// states (the open message, the commands awaiting replies) are kept beside them in `Dialogue`.
public final class SMTPDecoder {
    /// Named limits and choices; the limits default to `Limits`.
    public struct Options: Sendable {
        /// Replace AUTH credentials by `‹redacted›` in command lines (RFC 4954 responses, initial responses).
        public var redactCredentials = true
        /// The connection is TLS from its first byte (port 465, RFC 8314).
        public var implicitTLS = false
        /// Header bytes kept per message for parsing; the rest is counted, not stored.
        public var headerLimit = Limits.headerBytes
        /// Longest line kept whole; longer lines are cut and the rest discarded up to the line end.
        /// RFC 5321 §4.5.3.1 allows 512 octets for commands and replies; real traffic exceeds it.
        public var lineLimit = Limits.lineBytes
        /// Commands awaiting replies before the oldest are dropped (Zeek uses 1000).
        public var maxPending = Limits.pendingCommands
        /// Client bytes held while waiting for the reply to DATA, STARTTLS or AUTH before the
        /// decoder stops waiting and assumes the client did not wait either.
        public var waitLimit = Limits.waitBytes
        /// AUTH challenge rounds in one exchange before the rest is treated as commands.
        public var maxAuthRounds = Limits.authRounds
        /// Extra header names to extract, lower-cased.
        public var extraHeaders: Set<String> = []
        /// Header names whose values are kept as sent (`MessageHeaders.raw`), lower-cased.
        public var rawHeaders: Set<String> = []
        /// Keep each message's content as sent (dot-unstuffed, BDAT chunks joined) in
        /// `MessageInfo.body`: only for export, since it holds whole messages.
        public var keepBodies = false
        /// Find each message's MIME parts and hash their decoded content as it streams past
        /// (`MessageInfo.parts`); nothing of the message is held for it.
        public var scanParts = false
        /// Also keep each part's decoded octets (`MIMEPart.data`), for export.
        public var keepParts = false
        public init() {}
    }

    // MARK: - State

    /// What the client's bytes are now.
    enum ClientState {
        /// Command lines. Entered at the start of a clear-text connection; when a reply (or giving
        /// up waiting for one) ends a wait without opening content, TLS or an AUTH round; at the
        /// end of DATA content (its `CRLF.CRLF`, or a reply that ends it); after a BDAT chunk;
        /// and when clear text follows STARTTLS's 220.
        case commands
        /// The next line answers an AUTH challenge (RFC 4954 §4), then the reply to it is awaited.
        /// Entered when the reply to AUTH or to an earlier response is 334 (or the client sent on
        /// without waiting for it), within `maxAuthRounds` rounds.
        case authResponse(AuthExchange)
        /// The client's next bytes cannot be read before the reply to the command awaited: they
        /// may be message content, TLS, or an AUTH response. They are held in the `Wait`. Entered
        /// by sending DATA, STARTTLS, a well-formed AUTH, or an AUTH response.
        case awaiting(Wait)
        /// DATA content, until `CRLF.CRLF`. Entered by 354 to DATA (or by giving up waiting for it).
        case data
        /// BDAT chunk content (RFC 3030), `remaining` octets left; `last` ends the message.
        /// Entered by a BDAT command with a valid size.
        case bdat(remaining: Int, last: Bool)
        /// Opaque. Entered by implicit TLS (the option, or a TLS handshake as either side's first
        /// bytes), by a TLS handshake where a command was due, or when TLS follows STARTTLS.
        case tls
        /// After a 220 to STARTTLS, until the first bytes tell TLS from clear text: every input
        /// of both directions is held, in wire order, then replayed in the state decided.
        /// Entered by 220 to STARTTLS (also after the decoder had stopped waiting for it).
        case afterStartTLS(AfterStartTLS)
    }

    /// What the server's bytes are now.
    enum ServerState {
        /// Reply lines. Entered at the start of a clear-text connection.
        case replies
        /// Opaque. Entered with the client's `.tls` at implicit TLS or when TLS follows STARTTLS
        /// (not when only the client began TLS without STARTTLS: the server's complaints stay readable).
        case tls
    }

    /// A command whose reply decides how the client's next bytes are read.
    struct Wait {
        enum Awaited {
            case data, starttls
            case auth(AuthExchange)
            case authResponse(AuthExchange)
        }
        /// The command's index.
        var index: Int
        var awaited: Awaited
        /// Client bytes that came meanwhile (at most `waitLimit`), from `heldTime`.
        var held: [UInt8] = []
        var heldTime = Timestamp.zero
        /// Client bytes were lost meanwhile: a message that follows is incomplete.
        var heldGap = false

        init(index: Int, _ awaited: Awaited) {
            self.index = index
            self.awaited = awaited
        }

        var verb: Verb {
            switch awaited {
            case .data: .data
            case .starttls: .starttls
            case .auth: .auth
            case .authResponse: .authResponse
            }
        }
    }

    /// One AUTH exchange (RFC 4954 §4), from the command to its final reply.
    struct AuthExchange {
        /// The mechanism, upper-cased.
        var mechanism: String
        /// The AUTH command carried an initial response, so no later round holds the user name.
        var initialResponse: Bool
        /// 334 challenges so far.
        var rounds = 0
    }

    /// What came after a 220 to STARTTLS, kept in wire order until its first bytes tell whether
    /// TLS began (`StartTLSOutcome.judge`); then replayed in the state decided.
    struct AfterStartTLS {
        enum Input {
            case bytes(Direction, [UInt8], Timestamp, ttl: UInt8, ipID: UInt16?)
            case gap(Direction, Int, Timestamp)
        }
        /// When the 220 arrived: TLS, if it began, began there.
        var time: Timestamp
        var inputs: [Input] = []
        /// The first bytes of each direction (at most three: a TLS record header).
        var client: [UInt8] = []
        var server: [UInt8] = []
        /// The client's first bytes fell in a gap: only the server's can tell.
        var clientLost = false
        var held = 0
    }

    /// A message being received: DATA content, or BDAT chunks up to the last.
    struct OpenMessage {
        var info: MessageInfo
        var scanner: BodyScanner
    }

    /// A reply whose lines are coming (RFC 5321 §4.2.1): its code, and the facts of the packet
    /// that carried its first byte.
    struct ReplyAssembly {
        var lines: [[UInt8]] = []
        var code = 0
        var time = Timestamp.zero
        var ttl: UInt8 = 0
        var ipID: UInt16?
    }

    struct ClientSide {
        var state = ClientState.commands
        var framer: LineFramer
        /// After a gap: lines that are not commands are skipped until one is.
        var resync = false
    }

    struct ServerSide {
        var state = ServerState.replies
        var framer: LineFramer
        var reply = ReplyAssembly()
        /// After a gap: the next reply skips the commands whose replies were lost.
        var resync = false
        /// Bytes the server sent so far (none: the capture may hold only the client's side).
        var bytes = 0
    }

    /// What spans the states of the two sides.
    struct Dialogue {
        /// Commands awaiting replies, oldest first from `pendingHead`.
        var pending: [(index: Int, verb: Verb)] = []
        var pendingHead = 0
        var greetingSeen = false
        var commandCount = 0
        /// The current pipelined group (RFC 2920).
        var group = 0
        var message: OpenMessage?
    }

    public let options: Options
    /// Events produced so far; the caller takes them with `takeEvents()`.
    public private(set) var events: [SMTPEvent] = []

    var client: ClientSide
    var server: ServerSide
    var dialogue = Dialogue()
    /// Counted once each: repeated per-line anomalies would flood the output.
    var reported: Set<Anomaly.Name> = []

    /// Opaque bytes seen in each direction (TLS, and what cannot be read after it).
    public private(set) var tlsBytes = [0, 0]

    /// What the decoder read as TLS once both sides switched to it (implicit TLS, or TLS after an
    /// accepted STARTTLS), from the first TLS byte on, in wire order: handed back to whoever
    /// decrypts (`takeHandedBack`). Bytes of a client that began TLS alone are not handed back.
    public enum HandedBack: Sendable {
        case bytes(Direction, [UInt8], Timestamp)
        case gap(Direction, Int, Timestamp)
    }
    /// True from the moment both sides switched to TLS until `streamSwitched`: the bytes since
    /// are in `handedBack`.
    public private(set) var tlsBegan = false
    private var handedBack: [HandedBack] = []

    public init(options: Options = .init()) {
        self.options = options
        client = ClientSide(framer: LineFramer(limit: options.lineLimit))
        server = ServerSide(framer: LineFramer(limit: options.lineLimit))
        if options.implicitTLS {
            client.state = .tls
            server.state = .tls
            tlsBegan = true
        }
    }

    /// Takes the events produced so far.
    public func takeEvents() -> [SMTPEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// Hands each event produced so far to `body`, then forgets them: each is moved out of the
    /// list (reversed first, to be taken from its end in order), never copied.
    public func drainEvents(_ body: (SMTPEvent) -> Void) {
        guard !events.isEmpty else { return }
        events.reverse()
        while let e = events.popLast() { body(e) }
    }

    /// Takes the TLS bytes (and gaps) handed back since the last call.
    public func takeHandedBack() -> [HandedBack] {
        defer { handedBack.removeAll() }
        return handedBack
    }

    /// The stream switched: from here the decoder is given the clear bytes carried inside TLS.
    /// RFC 3207 §4.2: the client knows nothing from before (it must EHLO again), no command
    /// awaits a reply and no transaction is open. After implicit TLS the server's greeting is
    /// still to come, inside TLS.
    public func streamSwitched(implicit: Bool) {
        tlsBegan = false
        handedBack.removeAll()
        client.state = .commands
        server.state = .replies
        client.framer = LineFramer(limit: options.lineLimit)
        server.framer = LineFramer(limit: options.lineLimit)
        client.resync = false
        server.resync = false
        server.reply = ReplyAssembly()
        dialogue.pendingHead = dialogue.pending.count
        dialogue.message = nil
        dialogue.greetingSeen = !implicit
    }

    public var inTLS: Bool {
        switch server.state {
        case .tls: true
        case .replies: false
        }
    }

    // MARK: - Input

    public func receive(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8 = 0, ipID: UInt16? = nil) {
        guard !bytes.isEmpty else { return }
        switch direction {
        case .toServer: fromClient(bytes, time)
        case .toClient: fromServer(bytes, time, ttl: ttl, ipID: ipID)
        }
    }

    /// `length` bytes of one direction are missing.
    public func gap(_ direction: Direction, length: Int, at time: Timestamp) {
        events.append(.gap(direction, length, time))
        if case .afterStartTLS(var held) = client.state {
            held.inputs.append(.gap(direction, length, time))
            if direction == .toServer, held.client.isEmpty { held.clientLost = true }
            client.state = .afterStartTLS(held)
            decideAfterStartTLS(final: false)
            return
        }
        switch direction {
        case .toServer: clientGap(length, time)
        case .toClient: serverGap(length, time)
        }
    }

    /// The connection is ending: what was held after a 220 to STARTTLS is judged with what there
    /// is (so that TLS which began just before the end is still handed back).
    public func decideHeld() {
        if case .afterStartTLS = client.state { decideAfterStartTLS(final: true) }
    }

    /// The connection ended: partial lines and messages are closed off.
    public func finish(at time: Timestamp) {
        if case .afterStartTLS = client.state { decideAfterStartTLS(final: true) }
        // A line start gathered after a gap is judged as far as it goes.
        if client.framer.afterGap { client.framer.realign(startsLine: client.framer.partial.withUnsafeBytes(SMTPDetector.startsCommand)) }
        if server.framer.afterGap { server.framer.realign(startsLine: server.framer.partial.withUnsafeBytes(SMTPDetector.startsReply)) }
        if readsLines, !client.framer.isEmpty {
            anomaly(.unterminatedLine, "the client's last line had no line ending", time)
            let line = client.framer.takeLine()
            line.withUnsafeBytes { commandLine($0, time) }
        }
        if case .awaiting = client.state { client.state = .commands }
        if dialogue.message != nil { endMessage(complete: false, time) }
        if !server.framer.isEmpty {
            anomaly(.unterminatedLine, "the server's last line had no line ending", time)
            let line = server.framer.takeLine()
            line.withUnsafeBytes { replyLine($0, time) }
        }
        if !server.reply.lines.isEmpty { completeReply(time) }
    }

    // MARK: - Client side

    /// The client's bytes are lines: commands, or an AUTH response.
    private var readsLines: Bool {
        switch client.state {
        case .commands, .authResponse: true
        case .awaiting, .data, .bdat, .tls, .afterStartTLS: false
        }
    }

    private func fromClient(_ input: UnsafeRawBufferPointer, _ time: Timestamp) {
        var rest = input
        if readsLines, client.framer.partial.count < 3, startsTLSHandshake(client.framer.partial, rest) {
            // A TLS handshake record where a command should be (its first bytes, if they came
            // apart, were kept as the start of a line: they are TLS too).
            let kept = client.framer.takeLine()
            tlsBytes[0] += kept.count
            client.state = .tls
            if dialogue.commandCount == 0, server.bytes == 0 {
                // Before any greeting: implicit TLS (RFC 8314, port 465).
                server.state = .tls
                beginTLS(time)
                if !kept.isEmpty { handedBack.append(.bytes(.toServer, kept, time)) }
            } else {
                anomaly(.tlsWithoutStartTLS, "the client started TLS without STARTTLS; its side is not readable from here on", time)
            }
        }
        while !rest.isEmpty {
            switch client.state {
            case .commands, .authResponse:
                rest = clientLines(rest, time)
            case .data:
                // The open message's scanner finds the end of data; nil: the message goes on.
                guard let consumed = dialogue.message?.scanner.scan(rest) ?? nil else { return }
                endMessage(complete: dialogue.message?.info.complete ?? true, time)
                client.state = .commands
                pend(Command(index: nextIndex(), time: time, verb: .endOfData, line: [UInt8(ascii: ".")], group: currentGroup()))
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
            case .bdat(let remaining, let last):
                let take = min(remaining, rest.count)
                // (BDAT content is never dot-stuffed: the scanner passes every octet on.)
                _ = dialogue.message?.scanner.scan(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                dialogue.message?.info.size += take
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if take == remaining {
                    client.state = .commands
                    if last { endMessage(complete: dialogue.message?.info.complete ?? true, time) }
                } else {
                    client.state = .bdat(remaining: remaining - take, last: last)
                }
            case .awaiting(var wait):
                client.state = .commands  // the held bytes are appended in place, not copied
                if wait.held.isEmpty { wait.heldTime = time }
                if wait.held.count + rest.count <= options.waitLimit, server.bytes > 0 {
                    wait.held.append(contentsOf: rest)
                    client.state = .awaiting(wait)
                    return
                }
                // The server is silent (one-sided capture) or the client did not wait.
                if server.bytes > 0 {
                    anomaly(.clientDidNotWait, "the client sent on after \(wait.verb.name) without waiting for the reply", time)
                }
                stopWaiting(wait, assumePositive: true, time)
                if !wait.held.isEmpty { wait.held.withUnsafeBytes { fromClient($0, wait.heldTime) } }
            case .tls:
                tlsBytes[0] += rest.count
                if tlsBegan { handedBack.append(.bytes(.toServer, Array(rest), time)) }
                return
            case .afterStartTLS:
                holdAfterStartTLS(.toServer, rest, time, ttl: 0, ipID: nil)
                return
            }
        }
    }

    /// Frames command lines; returns the bytes left when the state changed mid-buffer.
    private func clientLines(_ input: UnsafeRawBufferPointer, _ time: Timestamp) -> UnsafeRawBufferPointer {
        var rest = input
        while !rest.isEmpty {
            guard readsLines else { return rest }
            if client.framer.afterGap {
                // The verb (up to 10 bytes) tells whether a command line starts here.
                guard let start = client.framer.lineStart(&rest, count: 10) else { return rest }
                client.framer.realign(startsLine: start.withUnsafeBytes(SMTPDetector.startsCommand))
            }
            switch client.framer.next(&rest) {
            case .incomplete(let cut):
                if cut { lineCut(.toServer, time) }
            case .line(let line):
                endLine(line, time, isClient: true)
            case .joined(let cut):
                if cut { lineCut(.toServer, time) }
                let line = client.framer.takeLine()
                line.withUnsafeBytes { endLine($0, time, isClient: true) }
            case .skipped:
                continue
            }
        }
        return rest
    }

    /// A TLS handshake record's header begins the line whose start is `kept` and whose next
    /// bytes are `input`: decided alike however the first bytes were cut.
    @inline(__always)
    private func startsTLSHandshake(_ kept: [UInt8], _ input: UnsafeRawBufferPointer) -> Bool {
        if kept.isEmpty { return SMTPDetector.startsTLSHandshake(input) }
        return (kept + input.prefix(3 - kept.count)).withUnsafeBytes(SMTPDetector.startsTLSHandshake)
    }

    private func lineCut(_ direction: Direction, _ time: Timestamp) {
        let who = direction == .toServer ? "client" : "server"
        anomaly(.lineOverHardLimit, "a \(who) line is longer than \(options.lineLimit) bytes; the rest of it was discarded", time)
    }

    /// A complete line without its LF: strips CR, records line-level anomalies, dispatches.
    private func endLine(_ raw: UnsafeRawBufferPointer, _ time: Timestamp, isClient: Bool) {
        var line = raw
        if line.last == 0x0d {
            line = UnsafeRawBufferPointer(rebasing: line[..<(line.count - 1)])
        } else {
            anomaly(.bareLF, "a \(isClient ? "client" : "server") line ended with LF alone (RFC 5321 §2.3.8 requires CRLF)", time)
        }
        if line.count > 510 {
            anomaly(isClient ? .commandLineTooLong : .replyLineTooLong,
                    "a \(isClient ? "command" : "reply") line is \(line.count + 2) octets; RFC 5321 §4.5.3.1 allows 512", time)
        }
        if memchr(line.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, 0x0d, line.count) != nil {
            anomaly(.bareCR, "a \(isClient ? "client" : "server") line contains a CR not followed by LF", time)
        }
        if memchr(line.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, 0, line.count) != nil {
            anomaly(.nulByte, "a \(isClient ? "client" : "server") line contains a NUL byte", time)
        }
        guard isClient else { return replyLine(line, time) }
        if case .commands = client.state, line.contains(where: { $0 >= 0x80 }) {
            anomaly(.eightBitCommand, "a command line carries 8-bit bytes, allowed only with SMTPUTF8 (RFC 6531 §3.3)", time)
        }
        commandLine(line, time)
    }

    private func commandLine(_ line: UnsafeRawBufferPointer, _ time: Timestamp) {
        if case .authResponse(let exchange) = client.state {
            client.state = .commands
            var cmd = Command(index: nextIndex(), time: time, verb: .authResponse, line: Array(line), group: currentGroup())
            let isCancel = line.count == 1 && line[0] == UInt8(ascii: "*")
            if options.redactCredentials && !isCancel { cmd.line = Array("‹redacted›".utf8) }
            cmd.argument = isCancel ? "*" : nil
            if !isCancel, let decoded = Base64.decode(line) {
                // The client's responses counted from its first, the initial response or not.
                credentials(exchange.mechanism, decoded, response: exchange.initialResponse ? exchange.rounds : exchange.rounds - 1, into: &cmd)
            }
            pend(cmd)
            client.state = .awaiting(Wait(index: cmd.index, .authResponse(exchange)))
            return
        }
        if line.isEmpty { return }
        if client.resync {
            guard SMTPDetector.startsCommand(line) else {
                anomaly(.resyncSkippedLine, "after a gap, client lines that are not commands were skipped", time)
                return
            }
            client.resync = false
        }
        var cmd = CommandParser.parse(line, index: nextIndex(), time: time, group: currentGroup())
        var exchange: AuthExchange?
        if cmd.verb == .auth {
            let words = line.split(whereSeparator: ASCII.isSpace)
            let mechanism = cmd.argument ?? ""
            exchange = AuthExchange(mechanism: mechanism, initialResponse: words.count > 2)
            if words.count > 2 {
                if let decoded = Base64.decode(words[2]) { credentials(mechanism, decoded, response: 0, into: &cmd) }
                if options.redactCredentials {
                    cmd.line = Array(line[..<(words[2].startIndex)]) + Array("‹redacted›".utf8)
                }
            }
        }
        if cmd.malformed { anomaly(.malformedCommand, "\(cmd.verb.name) command could not be parsed", time) }
        pend(cmd)
        switch cmd.verb {
        case .data:
            client.state = .awaiting(Wait(index: cmd.index, .data))
        case .starttls:
            client.state = .awaiting(Wait(index: cmd.index, .starttls))
        case .auth:
            if !cmd.malformed, let exchange { client.state = .awaiting(Wait(index: cmd.index, .auth(exchange))) }
        case .bdat:
            if let size = cmd.chunkSize {
                if dialogue.message == nil { startMessage(time, dotStuffed: false) }
                client.state = .bdat(remaining: size, last: cmd.last)
                if size == 0, cmd.last { client.state = .commands; endMessage(complete: dialogue.message?.info.complete ?? true, time) }
            } else {
                anomaly(.bdatInvalid, "BDAT without a valid chunk size (RFC 3030 §2); its data cannot be delimited", time)
            }
        case .helo, .ehlo, .mail, .rcpt, .rset, .noop, .quit, .vrfy, .expn, .help, .etrn, .xclient, .xforward, .other, .endOfData, .authResponse:
            break
        }
    }

    private func clientGap(_ length: Int, _ time: Timestamp) {
        switch client.state {
        case .tls, .afterStartTLS:
            tlsBytes[0] += length
            if tlsBegan { handedBack.append(.gap(.toServer, length, time)) }
        case .commands, .authResponse:
            client.framer.gap()
            client.resync = true
        case .awaiting(var wait):
            wait.heldGap = true
            wait.held.removeAll()
            client.state = .awaiting(wait)
            client.framer.skipToLineEnd()
            client.resync = true
        case .data:
            dialogue.message?.scanner.skip(length)
            dialogue.message?.info.complete = false
        case .bdat(let remaining, let last):
            dialogue.message?.info.complete = false
            dialogue.message?.info.size += min(length, remaining)
            dialogue.message?.scanner.content?.gap(min(length, remaining))
            if length < remaining {
                client.state = .bdat(remaining: remaining - length, last: last)
            } else {
                client.state = .commands
                if last { endMessage(complete: false, time) }
                if length > remaining {
                    client.framer.skipToLineEnd()
                    client.resync = true
                }
            }
        }
    }

    /// Resolves a wait on DATA / STARTTLS / AUTH, by the reply or by giving up.
    private func stopWaiting(_ wait: Wait, assumePositive positive: Bool, _ time: Timestamp) {
        client.state = .commands
        switch wait.awaited {
        case .data:
            guard positive else { return }
            startMessage(time, dotStuffed: true)
            if wait.heldGap {
                dialogue.message?.info.complete = false
                dialogue.message?.scanner.content?.gap(nil)
            }
            client.state = .data
        case .starttls:
            if positive { startTLSAccepted(time) }
        case .auth(var exchange), .authResponse(var exchange):
            guard positive else { return }
            exchange.rounds += 1
            if exchange.rounds > options.maxAuthRounds {
                anomaly(.authRoundsLimit, "more than \(options.maxAuthRounds) AUTH challenge rounds", time)
            } else {
                client.state = .authResponse(exchange)
            }
        }
    }

    // MARK: - Messages

    private func startMessage(_ time: Timestamp, dotStuffed: Bool) {
        var scanner = BodyScanner(headerLimit: options.headerLimit)
        scanner.dotStuffed = dotStuffed
        if options.keepBodies || options.scanParts || options.keepParts {
            scanner.content = ContentSink(keepBody: options.keepBodies, scanParts: options.scanParts, keepParts: options.keepParts)
        }
        dialogue.message = OpenMessage(info: MessageInfo(startTime: time, endTime: time), scanner: scanner)
        events.append(.messageStarted(time))
    }

    private func endMessage(complete: Bool, _ time: Timestamp) {
        guard let open = dialogue.message else { return }
        dialogue.message = nil
        var m = open.info
        let s = open.scanner
        m.endTime = time
        if s.dotStuffed { m.size = s.size }
        m.complete = complete && m.complete
        m.headers = s.headers.parse(wanted: options.extraHeaders, raw: options.rawHeaders)
        m.bareLineFeeds = s.bareLineFeeds
        m.eightBit = s.eightBit
        if let content = s.content {
            m.body = content.body
            m.parts = content.mime.map { var scanner = $0; return scanner.finish(complete: m.complete) }
        }
        if s.dotStuffed, s.bareLineFeeds > 0 {
            anomaly(.bareLFInMessage, "\(s.bareLineFeeds) line\(s.bareLineFeeds == 1 ? "" : "s") of the message ended with LF alone (RFC 5321 §2.3.8 requires CRLF; servers that accept it can be tricked by SMTP smuggling)", time)
        }
        if s.headers.overflow { anomaly(.headersTooLarge, "the message's header block exceeds \(options.headerLimit) bytes; the rest was counted, not parsed", time) }
        if s.endedWithBareLF { anomaly(.bareLFEndOfData, "the message ended with LF.LF instead of CRLF.CRLF", time) }
        events.append(.messageEnded(m))
    }

    // MARK: - Server side

    private func fromServer(_ input: UnsafeRawBufferPointer, _ time: Timestamp, ttl: UInt8, ipID: UInt16?) {
        if case .afterStartTLS = client.state {
            holdAfterStartTLS(.toClient, input, time, ttl: ttl, ipID: ipID)
            return
        }
        if case .replies = server.state, server.bytes < 3, dialogue.commandCount == 0, server.framer.partial.count == server.bytes,
            startsTLSHandshake(server.framer.partial, input)
        {
            // The server's first bytes are a TLS record: implicit TLS seen from the server's side
            // (when the client's first bytes did not already show it).
            let kept = server.framer.takeLine()
            tlsBytes[1] += kept.count
            server.state = .tls
            client.state = .tls
            beginTLS(time)
            if !kept.isEmpty { handedBack.append(.bytes(.toClient, kept, time)) }
        }
        server.bytes += input.count
        var rest = input
        while !rest.isEmpty {
            switch server.state {
            case .tls:
                tlsBytes[1] += rest.count
                if tlsBegan { handedBack.append(.bytes(.toClient, Array(rest), time)) }
                return
            case .replies:
                break
            }
            if server.framer.afterGap {
                if server.framer.isEmpty { replyStarts(time, ttl, ipID) }
                // Three digits and a separator tell whether a reply line starts here.
                guard let start = server.framer.lineStart(&rest, count: 4) else { return }
                server.framer.realign(startsLine: start.withUnsafeBytes(SMTPDetector.startsReply))
            }
            let startsLine = server.framer.isEmpty
            switch server.framer.next(&rest) {
            case .incomplete(let cut):
                if startsLine { replyStarts(time, ttl, ipID) }
                if cut { lineCut(.toClient, time) }
            case .line(let line):
                replyStarts(time, ttl, ipID)
                endLine(line, time, isClient: false)
            case .joined(let cut):
                if cut { lineCut(.toClient, time) }
                let line = server.framer.takeLine()
                line.withUnsafeBytes { endLine($0, time, isClient: false) }
            case .skipped:
                continue
            }
        }
    }

    private func serverGap(_ length: Int, _ time: Timestamp) {
        switch server.state {
        case .tls:
            tlsBytes[1] += length
            if tlsBegan { handedBack.append(.gap(.toClient, length, time)) }
        case .replies:
            server.framer.gap()
            // A multi-line reply in progress: its end was in the gap (captures lose whole segments
            // or their tails, and a reply ends at a segment's end), so it answers its command with
            // the lines seen. Dropping it would shift every later reply onto the wrong command.
            if !server.reply.lines.isEmpty { completeReply(time) }
            server.resync = true
        }
    }

    /// A line begins: when it is a reply's first, the reply takes its packet's facts.
    private func replyStarts(_ time: Timestamp, _ ttl: UInt8, _ ipID: UInt16?) {
        guard server.reply.lines.isEmpty else { return }
        server.reply.time = time
        server.reply.ttl = ttl
        server.reply.ipID = ipID
    }

    /// RFC 5321 §4.2: `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`.
    private func replyLine(_ line: UnsafeRawBufferPointer, _ time: Timestamp) {
        guard line.count >= 3, ASCII.isDigit(line[0]), ASCII.isDigit(line[1]), ASCII.isDigit(line[2]),
            line.count == 3 || line[3] == 0x20 || line[3] == UInt8(ascii: "-")
        else {
            if line.isEmpty { return }
            anomaly(.replyMalformed, "a server line is not a reply: \"\(Printable.short(line))\"", time)
            return
        }
        let code = Int(line[0] - 48) * 100 + Int(line[1] - 48) * 10 + Int(line[2] - 48)
        if server.reply.lines.isEmpty {
            server.reply.code = code
            if !(2...5).contains(code / 100) || code % 100 / 10 > 5 {
                anomaly(.replyCodeInvalid, "reply code \(code) is not a valid code (RFC 5321 §4.2: first digit 2 to 5, second digit 0 to 5)", time)
            }
        } else if code != server.reply.code {
            anomaly(.replyCodeMismatch, "a multi-line reply changes code from \(server.reply.code) to \(code)", time)
        }
        server.reply.lines.append(line.count > 4 ? Array(line[4...]) : [])
        let isLast = line.count == 3 || line[3] == 0x20
        if isLast { completeReply(time) }
    }

    private func completeReply(_ time: Timestamp) {
        let r = server.reply
        server.reply.lines = []
        var reply = Reply(time: r.time, code: r.code, enhanced: nil, lines: r.lines, ttl: r.ttl, ipID: r.ipID)
        reply.enhanced = Self.enhancedCode(r.lines.last ?? [], class: r.code / 100)
        let answered = match(reply)
        events.append(.reply(reply, answering: answered?.index, verb: answered?.verb))
        guard let cmd = answered else { return }
        if case .awaiting(let wait) = client.state, wait.index == cmd.index {
            let positive: Bool
            switch wait.awaited {
            case .data: positive = reply.code == 354
            case .starttls: positive = reply.code == 220
            case .auth, .authResponse: positive = reply.code == 334
            }
            if !wait.held.isEmpty {
                let name = wait.verb.name
                anomaly(.clientDidNotWait, "the client sent on after \(name) before the reply (RFC 2920 §3.1: \(name) ends a pipelined group)", time)
            }
            stopWaiting(wait, assumePositive: positive, time)
            if !wait.held.isEmpty { wait.held.withUnsafeBytes { fromClient($0, wait.heldTime) } }
        } else if cmd.verb == .starttls, reply.code == 220 {
            // STARTTLS accepted after the decoder had stopped waiting.
            switch (client.state, server.state) {
            case (.tls, .replies):
                // The client's handshake already came (`tls-without-starttls`): TLS it is.
                enterTLS(time)
            case (.commands, .replies), (.authResponse, .replies), (.awaiting, .replies), (.data, .replies), (.bdat, .replies):
                startTLSAccepted(time)
            case (.afterStartTLS, _), (_, .tls):
                break
            }
        }
    }

    // MARK: - After STARTTLS

    /// The server said 220 to STARTTLS. Whether TLS followed is for the next bytes to say: a
    /// TLS-inspecting firewall exports the dialogue it decrypted, and a broken server may go on in
    /// clear text. Until they tell, every input is held.
    private func startTLSAccepted(_ time: Timestamp) {
        client.state = .afterStartTLS(AfterStartTLS(time: time))
    }

    private func holdAfterStartTLS(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ time: Timestamp, ttl: UInt8, ipID: UInt16?) {
        guard case .afterStartTLS(var held) = client.state else { return }
        client.state = .commands  // the inputs are appended in place, not copied
        held.inputs.append(.bytes(direction, Array(bytes), time, ttl: ttl, ipID: ipID))
        held.held += bytes.count
        switch direction {
        case .toServer:
            if !held.clientLost { held.client += bytes.prefix(3 - held.client.count) }
        case .toClient:
            held.server += bytes.prefix(3 - held.server.count)
        }
        let final = held.held > options.waitLimit
        client.state = .afterStartTLS(held)
        decideAfterStartTLS(final: final)
    }

    /// Decides, once the first bytes allow it (or, `final`, with what there is), and replays what was held.
    private func decideAfterStartTLS(final: Bool) {
        guard case .afterStartTLS(let held) = client.state,
            let outcome = StartTLSOutcome.judge(client: held.clientLost ? nil : held.client, server: held.server, final: final)
        else { return }
        switch outcome {
        case .tls:
            enterTLS(held.time)
        case .plaintext:
            client.state = .commands
            anomaly(.plaintextAfterStartTLS, "the server accepted STARTTLS (220) but no TLS handshake followed: the dialogue goes on in clear text", held.time)
        }
        for input in held.inputs {
            switch input {
            case .bytes(let direction, let bytes, let time, let ttl, let ipID):
                bytes.withUnsafeBytes { receive(direction, $0, at: time, ttl: ttl, ipID: ipID) }
            case .gap(.toServer, let length, let time):
                clientGap(length, time)
            case .gap(.toClient, let length, let time):
                serverGap(length, time)
            }
        }
    }

    /// TLS began (after STARTTLS): both directions are opaque from here.
    private func enterTLS(_ time: Timestamp) {
        client.state = .tls
        server.state = .tls
        beginTLS(time)
    }

    /// Both sides switched to TLS: what follows is handed back.
    private func beginTLS(_ time: Timestamp) {
        tlsBegan = true
        events.append(.tlsStarted(time))
    }

    // MARK: - Matching replies to commands

    /// Which pending command a reply answers.
    private func match(_ reply: Reply) -> (index: Int, verb: Verb)? {
        if !dialogue.greetingSeen {
            dialogue.greetingSeen = true
            if dialogue.pendingHead == dialogue.pending.count { return nil }
            // Replies before any greeting: the capture began mid-session, or the client spoke first.
            if reply.code == 220 || reply.code == 554 || reply.code == 421 {
                anomaly(.clientBeforeGreeting, "the client sent commands before the server's greeting", reply.time)
                return nil
            }
        }
        if dialogue.pendingHead == dialogue.pending.count {
            if case .data = client.state {
                // A reply while the message is still streaming: its end was lost in a gap, or the
                // server gave up on it. Either way the message is over.
                anomaly(.dataEndedByReply, "the server replied before the end of the message data was seen", reply.time)
                endMessage(complete: false, reply.time)
                client.state = .commands
                let eod = Command(index: nextIndex(), time: reply.time, verb: .endOfData, line: [UInt8(ascii: ".")], group: currentGroup())
                events.append(.command(eod))
                return (eod.index, .endOfData)
            }
            anomaly(.replyWithoutCommand, "a \(reply.code) reply answers no command", reply.time)
            return nil
        }
        if server.resync {
            server.resync = false
            // Replies were lost in a gap: skip the commands whose replies they must have been.
            if let k = (dialogue.pendingHead..<dialogue.pending.count).first(where: { Self.plausible(reply.code, dialogue.pending[$0].verb) }) {
                dialogue.pendingHead = k
            }
        }
        let head = dialogue.pending[dialogue.pendingHead]
        dialogue.pendingHead += 1
        if dialogue.pendingHead > 64, dialogue.pendingHead * 2 > dialogue.pending.count {
            dialogue.pending.removeFirst(dialogue.pendingHead)
            dialogue.pendingHead = 0
        }
        return head
    }

    static func plausible(_ code: Int, _ verb: Verb) -> Bool {
        switch code {
        case 354: return verb == .data
        case 334: return verb == .auth || verb == .authResponse
        case 235: return verb == .auth || verb == .authResponse
        case 221: return verb == .quit
        case 220: return verb == .starttls
        case 200..<300: return verb != .data && verb != .starttls
        default: return true
        }
    }

    /// RFC 3463 §2: `class "." subject "." detail`, class matching the reply's first digit.
    static func enhancedCode(_ text: [UInt8], class cls: Int) -> String? {
        var i = 0
        var parts = 0
        while parts < 3 {
            let start = i
            while i < text.count, ASCII.isDigit(text[i]), i - start < 3 { i += 1 }
            guard i > start else { return nil }
            parts += 1
            if parts < 3 {
                guard i < text.count, text[i] == UInt8(ascii: ".") else { return nil }
                i += 1
            }
        }
        guard i == text.count || ASCII.isSpace(text[i]) else { return nil }
        guard text.first == UInt8(ascii: "0") + UInt8(cls), [2, 4, 5].contains(cls) else { return nil }
        return String(decoding: text[..<i], as: UTF8.self)
    }

    /// What a decoded AUTH response says about who authenticated, on `cmd`: the user name of
    /// PLAIN (authcid, RFC 4616 §2), LOGIN (its first response), CRAM-MD5 (the response's first
    /// word, RFC 2195) and NTLM (the AUTHENTICATE message, MS-NLMP 2.2.1.3, with its domain and
    /// workstation); and, only when credentials are shown, the password of PLAIN or LOGIN (its
    /// second response). `response` is the response's place in the exchange, 0 for the first.
    private func credentials(_ mechanism: String, _ decoded: [UInt8], response: Int, into cmd: inout Command) {
        let show = !options.redactCredentials
        switch mechanism {
        case "PLAIN":
            let parts = decoded.split(separator: 0, omittingEmptySubsequences: false)
            guard response == 0, parts.count == 3, let user = Self.printableUser(Array(parts[1])) else { return }
            cmd.authUser = user
            if show { cmd.authPassword = String(decoding: parts[2], as: UTF8.self) }
        case "LOGIN":
            if response == 0 { cmd.authUser = Self.printableUser(decoded) }
            if response == 1, show { cmd.authPassword = String(decoding: decoded, as: UTF8.self) }
        case "CRAM-MD5":
            guard response == 0, let space = decoded.lastIndex(of: UInt8(ascii: " ")) else { return }
            cmd.authUser = Self.printableUser(Array(decoded[..<space]))
        case "NTLM":
            guard let identity = NTLMIdentity(authenticate: decoded) else { return }
            cmd.authUser = identity.user
            cmd.ntlm = identity
        default:
            return
        }
    }

    /// A user name is text: bytes that decode to control characters are not one (a client that
    /// sent a command where a response was expected, say).
    private static func printableUser(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty, bytes.count <= 256, let s = String(validating: bytes, as: UTF8.self),
            s.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
        else { return nil }
        return s
    }

    // MARK: - Bookkeeping

    private func nextIndex() -> Int {
        defer { dialogue.commandCount += 1 }
        return dialogue.commandCount
    }

    /// A command sent while none is unanswered starts a new group.
    private func currentGroup() -> Int {
        if dialogue.pendingHead == dialogue.pending.count { dialogue.group += 1 }
        return dialogue.group
    }

    private func pend(_ cmd: Command) {
        events.append(.command(cmd))
        if dialogue.pending.count - dialogue.pendingHead >= options.maxPending {
            anomaly(.tooManyPendingCommands, "more than \(options.maxPending) commands without replies; the oldest are no longer matched", cmd.time)
            dialogue.pendingHead += 1
        }
        dialogue.pending.append((cmd.index, cmd.verb))
    }

    private func anomaly(_ name: Anomaly.Name, _ detail: String, _ time: Timestamp) {
        guard reported.insert(name).inserted else { return }
        events.append(.anomaly(Anomaly(name, detail, at: time)))
    }
}
