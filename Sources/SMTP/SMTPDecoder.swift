import ScopeCore

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
public final class SMTPDecoder {
    /// Named limits and choices.
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
        public init() {}
    }

    /// What the client side of the stream carries now.
    enum ClientMode {
        /// Command lines (and, after a 334, AUTH responses).
        case command
        /// Waiting for the reply to the command at `index` (DATA, STARTTLS, AUTH) before its
        /// following bytes can be read: they are held in `held`.
        case awaiting(index: Int, verb: Verb)
        /// DATA content, until `CRLF.CRLF`.
        case data
        /// BDAT chunk content: `remaining` octets left.
        case bdat(remaining: Int, last: Bool)
        /// After STARTTLS or implicit TLS: opaque.
        case tls
        /// After a 220 to STARTTLS, until the first bytes tell TLS from clear text (`afterStartTLS`).
        case undecided
    }

    /// What came after a 220 to STARTTLS, kept in wire order until its first bytes tell whether
    /// TLS began (`StartTLSOutcome.judge`); then replayed in the mode decided.
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

    public let options: Options
    /// Events produced so far; the caller takes them with `takeEvents()`.
    public private(set) var events: [SMTPEvent] = []

    var clientMode = ClientMode.command
    var clientLine: [UInt8] = []
    var clientDiscarding = false
    var clientResync = false
    var held: [UInt8] = []
    var heldTime = Timestamp.zero
    var heldGap = false
    var expectAuthResponse = false
    var authRounds = 0
    var authMechanism = ""
    /// The AUTH command carried an initial response, so no later round holds the user name.
    var authInitialResponse = false

    var serverLine: [UInt8] = []
    var serverDiscarding = false
    var serverResync = false
    var serverAfterGap = false
    var clientAfterGap = false
    var serverBytes = 0
    var serverTLS = false
    var replyLines: [[UInt8]] = []
    var replyCode = 0
    var replyTime = Timestamp.zero
    var replyTTL: UInt8 = 0
    var replyIPID: UInt16?

    var pending: [(index: Int, verb: Verb)] = []
    var pendingHead = 0
    var greetingSeen = false
    var commandCount = 0
    var group = 0
    var scanner: BodyScanner?
    var message: MessageInfo?
    var afterStartTLS: AfterStartTLS?
    /// Counted once each: repeated per-line anomalies would flood the output.
    var reported: Set<Anomaly.Name> = []

    public private(set) var tlsBytes = [0, 0]

    public init(options: Options = .init()) {
        self.options = options
        if options.implicitTLS {
            clientMode = .tls
            serverTLS = true
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

    public var inTLS: Bool { serverTLS }

    // MARK: - Input

    public func receive(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, at time: Timestamp, ttl: UInt8 = 0, ipID: UInt16? = nil) {
        guard !bytes.isEmpty else { return }
        switch direction {
        case .toServer: client(bytes, time)
        case .toClient: server(bytes, time, ttl: ttl, ipID: ipID)
        }
    }

    /// `length` bytes of one direction are missing.
    public func gap(_ direction: Direction, length: Int, at time: Timestamp) {
        events.append(.gap(direction, length, time))
        if afterStartTLS != nil {
            afterStartTLS!.inputs.append(.gap(direction, length, time))
            if direction == .toServer, afterStartTLS!.client.isEmpty { afterStartTLS!.clientLost = true }
            decideAfterStartTLS(final: false)
            return
        }
        directionGap(direction, length, time)
    }

    private func directionGap(_ direction: Direction, _ length: Int, _ time: Timestamp) {
        switch direction {
        case .toServer: clientGap(length, time)
        case .toClient:
            if serverTLS {
                tlsBytes[1] += length
                return
            }
            serverLine.removeAll(keepingCapacity: true)
            // A multi-line reply in progress: its end was in the gap (captures lose whole segments
            // or their tails, and a reply ends at a segment's end), so it answers its command with
            // the lines seen. Dropping it would shift every later reply onto the wrong command.
            if !replyLines.isEmpty { completeReply(time) }
            serverDiscarding = true
            serverAfterGap = true
            serverResync = true
        }
    }

    /// The connection ended: partial lines and messages are closed off.
    public func finish(at time: Timestamp) {
        if afterStartTLS != nil { decideAfterStartTLS(final: true) }
        if !clientLine.isEmpty, case .command = clientMode {
            anomaly(.unterminatedLine, "the client's last line had no line ending", time)
            let line = clientLine
            clientLine = []
            line.withUnsafeBytes { commandLine($0, time) }
        }
        if case .awaiting = clientMode {
            clientMode = .command
        }
        if message != nil { endMessage(complete: false, time) }
        if !serverLine.isEmpty {
            anomaly(.unterminatedLine, "the server's last line had no line ending", time)
            let line = serverLine
            serverLine = []
            line.withUnsafeBytes { replyLine($0, time) }
        }
        if !replyLines.isEmpty { completeReply(time) }
    }

    // MARK: - Client side

    private func client(_ input: UnsafeRawBufferPointer, _ time: Timestamp) {
        var rest = input
        if case .command = clientMode, clientLine.isEmpty, SMTPDetector.startsTLSHandshake(rest) {
            // A TLS handshake record where a command should be.
            clientMode = .tls
            if commandCount == 0, serverBytes == 0 {
                // Before any greeting: implicit TLS (RFC 8314, port 465).
                serverTLS = true
                events.append(.tlsStarted(time))
            } else {
                anomaly(.tlsWithoutStartTLS, "the client started TLS without STARTTLS; its side is not readable from here on", time)
            }
        }
        while !rest.isEmpty {
            switch clientMode {
            case .tls:
                tlsBytes[0] += rest.count
                return
            case .undecided:
                holdAfterStartTLS(.toServer, rest, time, ttl: 0, ipID: nil)
                return
            case .awaiting(let index, let verb):
                if held.isEmpty { heldTime = time }
                if held.count + rest.count <= options.waitLimit, serverBytes > 0 {
                    held.append(contentsOf: rest)
                    return
                }
                // The server is silent (one-sided capture) or the client did not wait.
                if serverBytes > 0 {
                    anomaly(.clientDidNotWait, "the client sent on after \(verb.name) without waiting for the reply", time)
                }
                stopWaiting(index: index, verb: verb, assumePositive: true, time)
                if !held.isEmpty {
                    let h = held
                    held = []
                    h.withUnsafeBytes { client($0, heldTime) }
                }
            case .data:
                guard let consumed = scanner!.scan(rest) else { return }
                endMessage(complete: message?.complete ?? true, time)
                clientMode = .command
                pend(Command(index: nextIndex(), time: time, verb: .endOfData, line: [UInt8(ascii: ".")], group: currentGroup()))
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
            case .bdat(let remaining, let last):
                let take = min(remaining, rest.count)
                _ = scanner?.scan(UnsafeRawBufferPointer(rebasing: rest[..<take]))
                message?.size += take
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if take == remaining {
                    clientMode = .command
                    if last { endMessage(complete: message?.complete ?? true, time) }
                } else {
                    clientMode = .bdat(remaining: remaining - take, last: last)
                }
            case .command:
                rest = clientLines(rest, time)
            }
        }
    }

    /// Frames command lines; returns the bytes left when the mode changed mid-buffer.
    private func clientLines(_ input: UnsafeRawBufferPointer, _ time: Timestamp) -> UnsafeRawBufferPointer {
        var rest = input
        if clientAfterGap {
            clientAfterGap = false
            if clientLine.isEmpty, SMTPDetector.startsCommand(rest) { clientDiscarding = false }
        }
        while !rest.isEmpty {
            guard case .command = clientMode else { return rest }
            guard let lf = memchr(rest.baseAddress!, 0x0a, rest.count) else {
                appendPartial(&clientLine, rest, discarding: &clientDiscarding, who: "client", time)
                return UnsafeRawBufferPointer(start: nil, count: 0)
            }
            let n = UnsafeRawPointer(lf) - rest.baseAddress!
            let piece = UnsafeRawBufferPointer(rebasing: rest[..<n])
            rest = UnsafeRawBufferPointer(rebasing: rest[(n + 1)...])
            if clientDiscarding {
                clientDiscarding = false
                clientLine.removeAll(keepingCapacity: true)
                continue
            }
            if clientLine.isEmpty {
                endLine(piece, time, isClient: true)
            } else {
                appendPartial(&clientLine, piece, discarding: &clientDiscarding, who: "client", time)
                clientDiscarding = false
                let line = clientLine
                clientLine.removeAll(keepingCapacity: true)
                line.withUnsafeBytes { endLine($0, time, isClient: true) }
            }
        }
        return rest
    }

    private func appendPartial(_ buffer: inout [UInt8], _ bytes: UnsafeRawBufferPointer, discarding: inout Bool, who: String, _ time: Timestamp) {
        guard !discarding else { return }
        let room = options.lineLimit - buffer.count
        if bytes.count > room {
            buffer.append(contentsOf: bytes.prefix(max(room, 0)))
            anomaly(.lineOverHardLimit, "a \(who) line is longer than \(options.lineLimit) bytes; the rest of it was discarded", time)
            discarding = true
        } else {
            buffer.append(contentsOf: bytes)
        }
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
        if isClient, !expectAuthResponse, line.contains(where: { $0 >= 0x80 }) {
            anomaly(.eightBitCommand, "a command line carries 8-bit bytes, allowed only with SMTPUTF8 (RFC 6531 §3.3)", time)
        }
        if isClient { commandLine(line, time) } else { replyLine(line, time) }
    }

    private func commandLine(_ line: UnsafeRawBufferPointer, _ time: Timestamp) {
        if expectAuthResponse {
            expectAuthResponse = false
            var cmd = Command(index: nextIndex(), time: time, verb: .authResponse, line: Array(line), group: currentGroup())
            let isCancel = line.count == 1 && line[0] == UInt8(ascii: "*")
            if options.redactCredentials && !isCancel { cmd.line = Array("‹redacted›".utf8) }
            cmd.argument = isCancel ? "*" : nil
            if authRounds == 1, !authInitialResponse, !isCancel, let decoded = Base64.decode(line) {
                cmd.authUser = Self.authUser(mechanism: authMechanism, decoded: decoded)
            }
            pend(cmd)
            clientMode = .awaiting(index: cmd.index, verb: .authResponse)
            return
        }
        if line.isEmpty { return }
        if clientResync {
            guard SMTPDetector.startsCommand(line) else {
                anomaly(.resyncSkippedLine, "after a gap, client lines that are not commands were skipped", time)
                return
            }
            clientResync = false
        }
        var cmd = CommandParser.parse(line, index: nextIndex(), time: time, group: currentGroup())
        if cmd.verb == .auth {
            let words = line.split(whereSeparator: ASCII.isSpace)
            authMechanism = cmd.argument ?? ""
            authInitialResponse = words.count > 2
            if words.count > 2 {
                if let decoded = Base64.decode(words[2]) { cmd.authUser = Self.authUser(mechanism: authMechanism, decoded: decoded) }
                if options.redactCredentials {
                    cmd.line = Array(line[..<(words[2].startIndex)]) + Array("‹redacted›".utf8)
                }
            }
        }
        if cmd.malformed { anomaly(.malformedCommand, "\(cmd.verb.name) command could not be parsed", time) }
        pend(cmd)
        switch cmd.verb {
        case .data, .starttls:
            clientMode = .awaiting(index: cmd.index, verb: cmd.verb)
        case .auth where !cmd.malformed:
            authRounds = 0
            clientMode = .awaiting(index: cmd.index, verb: .auth)
        case .bdat:
            if let size = cmd.chunkSize {
                if message == nil { startMessage(time, dotStuffed: false) }
                clientMode = .bdat(remaining: size, last: cmd.last)
                if size == 0, cmd.last { clientMode = .command; endMessage(complete: message?.complete ?? true, time) }
            } else {
                anomaly(.bdatInvalid, "BDAT without a valid chunk size (RFC 3030 §2); its data cannot be delimited", time)
            }
        default:
            break
        }
    }

    private func clientGap(_ length: Int, _ time: Timestamp) {
        switch clientMode {
        case .tls, .undecided:
            tlsBytes[0] += length
        case .command:
            clientLine.removeAll(keepingCapacity: true)
            clientDiscarding = true
            clientAfterGap = true
            clientResync = true
        case .awaiting:
            heldGap = true
            held.removeAll()
            clientDiscarding = true
            clientResync = true
        case .data:
            scanner?.skip(length)
            message?.complete = false
        case .bdat(let remaining, let last):
            message?.complete = false
            message?.size += min(length, remaining)
            if length < remaining {
                clientMode = .bdat(remaining: remaining - length, last: last)
            } else {
                clientMode = .command
                if last { endMessage(complete: false, time) }
                if length > remaining {
                    clientDiscarding = true
                    clientResync = true
                }
            }
        }
    }

    /// Resolves a wait on DATA / STARTTLS / AUTH, by the reply or by giving up.
    private func stopWaiting(index: Int, verb: Verb, assumePositive positive: Bool, _ time: Timestamp) {
        switch verb {
        case .data:
            if positive {
                startMessage(time, dotStuffed: true)
                if heldGap { message?.complete = false }
                clientMode = .data
            } else {
                clientMode = .command
            }
        case .starttls:
            if positive {
                startTLSAccepted(time)
            } else {
                clientMode = .command
            }
        case .auth, .authResponse:
            clientMode = .command
            if positive {
                authRounds += 1
                if authRounds > options.maxAuthRounds {
                    anomaly(.authRoundsLimit, "more than \(options.maxAuthRounds) AUTH challenge rounds", time)
                } else {
                    expectAuthResponse = true
                }
            }
        default:
            clientMode = .command
        }
        heldGap = false
    }

    private func releaseHeld() {
        guard !held.isEmpty else { return }
        let h = held
        held = []
        h.withUnsafeBytes { client($0, heldTime) }
    }

    // MARK: - Messages

    private func startMessage(_ time: Timestamp, dotStuffed: Bool) {
        message = MessageInfo(startTime: time, endTime: time)
        var s = BodyScanner(headerLimit: options.headerLimit)
        s.dotStuffed = dotStuffed
        scanner = s
        events.append(.messageStarted(time))
    }

    private func endMessage(complete: Bool, _ time: Timestamp) {
        guard var m = message, let s = scanner else { return }
        m.endTime = time
        if s.dotStuffed { m.size = s.size }
        m.complete = complete && m.complete
        m.headers = s.headers.parse(wanted: options.extraHeaders)
        m.bareLineFeeds = s.bareLineFeeds
        m.eightBit = s.eightBit
        if s.dotStuffed, s.bareLineFeeds > 0 {
            anomaly(.bareLFInMessage, "\(s.bareLineFeeds) line(s) of the message ended with LF alone (RFC 5321 §2.3.8 requires CRLF; servers that accept it can be tricked by SMTP smuggling)", time)
        }
        if s.headers.overflow { anomaly(.headersTooLarge, "the message's header block exceeds \(options.headerLimit) bytes; the rest was counted, not parsed", time) }
        if s.endedWithBareLF { anomaly(.bareLFEndOfData, "the message ended with LF.LF instead of CRLF.CRLF", time) }
        events.append(.messageEnded(m))
        message = nil
        scanner = nil
    }

    // MARK: - Server side

    private func server(_ input: UnsafeRawBufferPointer, _ time: Timestamp, ttl: UInt8, ipID: UInt16?) {
        if afterStartTLS != nil {
            holdAfterStartTLS(.toClient, input, time, ttl: ttl, ipID: ipID)
            return
        }
        if serverBytes == 0, commandCount == 0, SMTPDetector.startsTLSHandshake(input) {
            // The server's first bytes are a TLS record: implicit TLS seen from the server's side.
            serverTLS = true
            clientMode = .tls
            events.append(.tlsStarted(time))
        }
        serverBytes += input.count
        if serverTLS {
            tlsBytes[1] += input.count
            return
        }
        var rest = input
        if serverAfterGap {
            // After a gap the next bytes may be the middle of a line or the start of one.
            serverAfterGap = false
            if serverLine.isEmpty, SMTPDetector.startsReply(rest) { serverDiscarding = false }
        }
        while !rest.isEmpty {
            if serverTLS {
                tlsBytes[1] += rest.count
                return
            }
            guard let lf = memchr(rest.baseAddress!, 0x0a, rest.count) else {
                if serverLine.isEmpty { replyTimeStart(time, ttl, ipID) }
                appendPartial(&serverLine, rest, discarding: &serverDiscarding, who: "server", time)
                return
            }
            let n = UnsafeRawPointer(lf) - rest.baseAddress!
            let piece = UnsafeRawBufferPointer(rebasing: rest[..<n])
            rest = UnsafeRawBufferPointer(rebasing: rest[(n + 1)...])
            if serverDiscarding {
                serverDiscarding = false
                serverLine.removeAll(keepingCapacity: true)
                continue
            }
            if serverLine.isEmpty {
                replyTimeStart(time, ttl, ipID)
                endLine(piece, time, isClient: false)
            } else {
                appendPartial(&serverLine, piece, discarding: &serverDiscarding, who: "server", time)
                serverDiscarding = false
                let line = serverLine
                serverLine.removeAll(keepingCapacity: true)
                line.withUnsafeBytes { endLine($0, time, isClient: false) }
            }
        }
    }

    private func replyTimeStart(_ time: Timestamp, _ ttl: UInt8, _ ipID: UInt16?) {
        guard replyLines.isEmpty else { return }
        replyTime = time
        replyTTL = ttl
        replyIPID = ipID
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
        if replyLines.isEmpty {
            replyCode = code
            if !(2...5).contains(code / 100) || code % 100 / 10 > 5 {
                anomaly(.replyCodeInvalid, "reply code \(code) is not a valid code (RFC 5321 §4.2: first digit 2 to 5, second digit 0 to 5)", time)
            }
        } else if code != replyCode {
            anomaly(.replyCodeMismatch, "a multi-line reply changes code from \(replyCode) to \(code)", time)
        }
        let text = line.count > 4 ? Array(line[4...]) : []
        replyLines.append(text)
        let isLast = line.count == 3 || line[3] == 0x20
        if isLast { completeReply(time) }
    }

    private func completeReply(_ time: Timestamp) {
        let lines = replyLines
        replyLines = []
        var reply = Reply(time: replyTime, code: replyCode, enhanced: nil, lines: lines, ttl: replyTTL, ipID: replyIPID)
        reply.enhanced = Self.enhancedCode(lines.last ?? [], class: replyCode / 100)
        let answered = match(reply)
        events.append(.reply(reply, answering: answered?.index, verb: answered?.verb))
        guard let cmd = answered else { return }
        if case .awaiting(let index, let verb) = clientMode, index == cmd.index {
            let positive: Bool
            switch verb {
            case .data: positive = reply.code == 354
            case .starttls: positive = reply.code == 220
            default: positive = reply.code == 334
            }
            if !held.isEmpty {
                anomaly(.clientDidNotWait, "the client sent on after \(verb.name) before the reply (RFC 2920 §3.1: \(verb.name) ends a pipelined group)", time)
            }
            stopWaiting(index: index, verb: verb, assumePositive: positive, time)
            releaseHeld()
        } else if cmd.verb == .starttls, reply.code == 220, !serverTLS, afterStartTLS == nil {
            // STARTTLS accepted after the decoder had stopped waiting.
            if case .tls = clientMode {
                // The client's handshake already came (`tls-without-starttls`): TLS it is.
                enterTLS(time)
            } else {
                startTLSAccepted(time)
            }
        }
    }

    // MARK: - After STARTTLS

    /// The server said 220 to STARTTLS. Whether TLS followed is for the next bytes to say: a
    /// TLS-inspecting firewall exports the dialogue it decrypted, and a broken server may go on in
    /// clear text. Until they tell, every input is held.
    private func startTLSAccepted(_ time: Timestamp) {
        clientMode = .undecided
        afterStartTLS = AfterStartTLS(time: time)
    }

    private func holdAfterStartTLS(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ time: Timestamp, ttl: UInt8, ipID: UInt16?) {
        guard afterStartTLS != nil else { return }
        afterStartTLS!.inputs.append(.bytes(direction, Array(bytes), time, ttl: ttl, ipID: ipID))
        afterStartTLS!.held += bytes.count
        if direction == .toServer {
            if !afterStartTLS!.clientLost { afterStartTLS!.client += bytes.prefix(3 - afterStartTLS!.client.count) }
        } else {
            afterStartTLS!.server += bytes.prefix(3 - afterStartTLS!.server.count)
        }
        decideAfterStartTLS(final: afterStartTLS!.held > options.waitLimit)
    }

    /// Decides, once the first bytes allow it (or, `final`, with what there is), and replays what was held.
    private func decideAfterStartTLS(final: Bool) {
        guard let pending = afterStartTLS,
            let outcome = StartTLSOutcome.judge(client: pending.clientLost ? nil : pending.client, server: pending.server, final: final)
        else { return }
        afterStartTLS = nil
        switch outcome {
        case .tls:
            enterTLS(pending.time)
        case .plaintext:
            clientMode = .command
            anomaly(.plaintextAfterStartTLS, "the server accepted STARTTLS (220) but no TLS handshake followed: the dialogue goes on in clear text", pending.time)
        }
        for input in pending.inputs {
            switch input {
            case .bytes(let direction, let bytes, let time, let ttl, let ipID):
                bytes.withUnsafeBytes { b in
                    switch direction {
                    case .toServer: client(b, time)
                    case .toClient: server(b, time, ttl: ttl, ipID: ipID)
                    }
                }
            case .gap(let direction, let length, let time):
                directionGap(direction, length, time)
            }
        }
    }

    /// TLS began (after STARTTLS): both directions are opaque from here.
    private func enterTLS(_ time: Timestamp) {
        clientMode = .tls
        serverTLS = true
        events.append(.tlsStarted(time))
    }

    /// Which pending command a reply answers.
    private func match(_ reply: Reply) -> (index: Int, verb: Verb)? {
        if !greetingSeen {
            greetingSeen = true
            if pendingHead == pending.count { return nil }
            // Replies before any greeting: the capture began mid-session, or the client spoke first.
            if reply.code == 220 || reply.code == 554 || reply.code == 421 {
                anomaly(.clientBeforeGreeting, "the client sent commands before the server's greeting", reply.time)
                return nil
            }
        }
        if pendingHead == pending.count {
            if case .data = clientMode {
                // A reply while the message is still streaming: its end was lost in a gap, or the
                // server gave up on it. Either way the message is over.
                anomaly(.dataEndedByReply, "the server replied before the end of the message data was seen", reply.time)
                endMessage(complete: false, reply.time)
                clientMode = .command
                let eod = Command(index: nextIndex(), time: reply.time, verb: .endOfData, line: [UInt8(ascii: ".")], group: currentGroup())
                events.append(.command(eod))
                return (eod.index, .endOfData)
            }
            anomaly(.replyWithoutCommand, "a \(reply.code) reply answers no command", reply.time)
            return nil
        }
        if serverResync {
            serverResync = false
            // Replies were lost in a gap: skip the commands whose replies they must have been.
            if let k = (pendingHead..<pending.count).first(where: { Self.plausible(reply.code, pending[$0].verb) }) {
                pendingHead = k
            }
        }
        let head = pending[pendingHead]
        pendingHead += 1
        if pendingHead > 64, pendingHead * 2 > pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
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

    /// The user name inside a decoded AUTH response: PLAIN's authcid (RFC 4616 §2), LOGIN's first
    /// response. Other mechanisms carry no plain user name here.
    static func authUser(mechanism: String, decoded: [UInt8]) -> String? {
        switch mechanism {
        case "PLAIN":
            let parts = decoded.split(separator: 0, omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            return printableUser(Array(parts[1]))
        case "LOGIN":
            return printableUser(decoded)
        default:
            return nil
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
        defer { commandCount += 1 }
        return commandCount
    }

    /// A command sent while none is unanswered starts a new group.
    private func currentGroup() -> Int {
        if pendingHead == pending.count { group += 1 }
        return group
    }

    private func pend(_ cmd: Command) {
        events.append(.command(cmd))
        if pending.count - pendingHead >= options.maxPending {
            anomaly(.tooManyPendingCommands, "more than \(options.maxPending) commands without replies; the oldest are no longer matched", cmd.time)
            pendingHead += 1
        }
        pending.append((cmd.index, cmd.verb))
    }

    private func anomaly(_ name: Anomaly.Name, _ detail: String, _ time: Timestamp) {
        guard reported.insert(name).inserted else { return }
        events.append(.anomaly(Anomaly(name, detail, at: time)))
    }
}
