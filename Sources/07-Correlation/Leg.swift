import SMTP
import Vocabulary
import Sessions

/// One SMTP session seen as a possible leg of an intercepted connection: its commands, the reply
/// each got, its banner and its messages, in the order they crossed the wire. A class: legs are
/// held, looked up and put into pairings many times, and never change once built.
///
/// Everything pairing and attribution read is here and nothing else, so a leg written out (the
/// JSON `leg` record) and read back (`LegRecord`) pairs exactly as the session it came from.
public final class Leg {
    /// A client command and the first reply that answered it.
    public struct Line: Sendable {
        /// Position among the session's commands (0-based, as the decoder numbered them).
        public var index: Int
        public var time: Timestamp
        public var verb: Verb
        /// The line as sent, without CRLF.
        public var text: [UInt8]
        /// 1-based transaction the command belongs to; nil for session-level commands.
        public var transaction: Int?
        /// The first reply that answered it.
        public var reply: ReplyLine?
        /// Where it is in the session's timeline: wire order, also among lines of one timestamp.
        public var position: Int

        public init(index: Int, time: Timestamp, verb: Verb, text: [UInt8], transaction: Int?, reply: ReplyLine?, position: Int) {
            self.index = index
            self.time = time
            self.verb = verb
            self.text = text
            self.transaction = transaction
            self.reply = reply
            self.position = position
        }
    }

    /// A reply as the timeline writes it (`250 first · second`).
    public struct ReplyLine: Sendable {
        public var time: Timestamp
        public var code: Int
        public var text: [UInt8]
        public var position: Int

        public init(time: Timestamp, code: Int, text: [UInt8], position: Int) {
            self.time = time
            self.code = code
            self.text = text
            self.position = position
        }
    }

    /// A message sent in the session: what tells it from another and what became of it.
    public struct Message: Sendable {
        public var transaction: Int
        /// When its end was seen.
        public var end: Timestamp
        /// Where the message is in the timeline: before the end-of-data line, before a QUIT
        /// that came in the same segment.
        public var position: Int
        public var size: Int
        public var messageID: String?
        public var subject: String?
        public var outcome: Outcome

        public init(transaction: Int, end: Timestamp, position: Int, size: Int, messageID: String?, subject: String?, outcome: Outcome) {
            self.transaction = transaction
            self.end = end
            self.position = position
            self.size = size
            self.messageID = messageID
            self.subject = subject
            self.outcome = outcome
        }
    }

    /// What the TCP layer saw, enough to tell one connection captured twice from two connections.
    public struct Wire: Sendable {
        /// Initial sequence numbers and SYN timestamp values [client, server].
        public var isn: [UInt32?] = [nil, nil]
        public var synTimestamp: [UInt32?] = [nil, nil]
        /// Gaps and bytes lost in gaps [client→server, server→client].
        public var gaps = [0, 0]
        public var gapBytes = [0, 0]

        public init(isn: [UInt32?] = [nil, nil], synTimestamp: [UInt32?] = [nil, nil], gaps: [Int] = [0, 0], gapBytes: [Int] = [0, 0]) {
            self.isn = isn
            self.synTimestamp = synTimestamp
            self.gaps = gaps
            self.gapBytes = gapBytes
        }
    }

    /// What attribution compares between two legs' TLS handshakes: the issuer of the certificate
    /// the client got and the client's ClientHello fingerprint.
    public struct TLS: Sendable, Equatable {
        public var issuer: String?
        public var ja3: String?

        public init(issuer: String?, ja3: String?) {
            self.issuer = issuer
            self.ja3 = ja3
        }
    }

    // Only what pairing and attribution need: a finished session's full record is not kept.
    /// Unique among the legs given to one finder (the key it holds them by).
    public let id: Int
    /// The session's number in the output of the run that read it (the same as `id` when the
    /// finder sees the sessions of that run; legs read back from several runs keep theirs).
    public let session: Int
    public let endpointClient: Endpoint
    public let endpointServer: Endpoint
    public let vantage: Vantage
    public let start: Timestamp
    public let end: Timestamp
    public private(set) var commands: [Line] = []
    public private(set) var banner: ReplyLine?
    public private(set) var messages: [Message] = []
    /// Lines that identify a dialogue rather than being common to every dialogue.
    private(set) var distinctiveLines: Set<LineKey> = []
    private(set) var messageIDs: Set<String> = []
    public private(set) var wire = Wire()
    /// The TLS handshake the leg carried, if any.
    public private(set) var tls: TLS?

    private init(id: Int, session: Int, client: Endpoint, server: Endpoint, vantage: Vantage, start: Timestamp, end: Timestamp) {
        self.id = id
        self.session = session
        endpointClient = client
        endpointServer = server
        self.vantage = vantage
        self.start = start
        self.end = end
    }

    private convenience init(copying other: Leg) {
        self.init(id: other.id, session: other.session, client: other.endpointClient, server: other.endpointServer, vantage: other.vantage, start: other.start, end: other.end)
        commands = other.commands
        banner = other.banner
        messages = other.messages
        wire = other.wire
        tls = other.tls
    }

    /// A leg from its parts, as read back from a `leg` record: `id` unique among the legs given
    /// to one finder, `session` the number the session had where it was read.
    public convenience init(id: Int, session: Int, client: Endpoint, server: Endpoint, vantage: Vantage, start: Timestamp, end: Timestamp,
                            commands: [Line], banner: ReplyLine?, messages: [Message], wire: Wire, tls: TLS?) {
        self.init(id: id, session: session, client: client, server: server, vantage: vantage, start: start, end: end)
        self.commands = commands
        self.banner = banner
        self.messages = messages
        self.wire = wire
        self.tls = tls
        index()
    }

    /// `pool` shares the lines many sessions carry alike (replies, DATA, QUIT) between the legs held.
    public convenience init(session: Session, transactions: [Transaction], pool: TextPool? = nil) {
        self.init(id: session.id, session: session.id, client: session.client, server: session.server, vantage: session.vantage, start: session.start, end: session.end)
        tls = session.tls.map { TLS(issuer: $0.serverCertificate?.issuer, ja3: $0.ja3) }
        wire = Wire(isn: session.tcp.map(\.isn), synTimestamp: session.tcp.map(\.synTimestamp),
                    gaps: session.gaps, gapBytes: session.gapBytes)
        let byIndex = Dictionary(transactions.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        commands.reserveCapacity(session.timeline.count { if case .command = $0.kind { true } else { false } })
        /// Where the command with index `index` is in `commands`: the decoder numbers commands as
        /// it reads them, so the timeline holds them in index order.
        func position(_ index: Int) -> Int? {
            var lo = 0, hi = commands.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if commands[mid].index < index { lo = mid + 1 } else { hi = mid }
            }
            return lo < commands.count && commands[lo].index == index ? lo : nil
        }
        for (place, e) in session.timeline.enumerated() {
            switch e.kind {
            case .command(let index, let verb, _):
                // Lines that identify the dialogue are seldom shared: not worth pooling.
                let text = Self.isDistinctive(verb) ? e.line : pool?.intern(e.line) ?? e.line
                commands.append(Line(index: index, time: e.time, verb: verb, text: text, transaction: e.transaction, reply: nil, position: place))
            case .reply(let code, let answering):
                let r = ReplyLine(time: e.time, code: code, text: pool?.intern(e.line) ?? e.line, position: place)
                if let answering {
                    if let k = position(answering), commands[k].reply == nil { commands[k].reply = r }
                } else if banner == nil {
                    banner = r
                }
            case .message:
                if let n = e.transaction, let t = byIndex[n] {
                    messages.append(Message(transaction: n, end: e.time, position: place, size: t.size ?? 0, messageID: t.headers?.messageID, subject: t.headers?.subject, outcome: t.outcome))
                }
            case .tls, .gap, .note:
                break
            }
        }
        index()
    }

    /// Commands whose lines tell one dialogue from another (the client's name, the envelope).
    static func isDistinctive(_ verb: Verb) -> Bool {
        switch verb {
        case .helo, .ehlo, .mail, .rcpt, .auth: return true
        default: return false
        }
    }

    /// Whether pairing can use the leg at all: a session with nothing distinctive (no HELO/EHLO,
    /// MAIL, RCPT or AUTH line and no Message-ID) cannot be shown to be anything's leg.
    public var isPairable: Bool { !distinctiveLines.isEmpty || !messageIDs.isEmpty }

    /// The key that sends both legs of one connection to the same place when legs are divided
    /// among several `correlate` runs (as keyed log topics do): what every leg of one connection
    /// carries alike. The envelope sender (the first MAIL command's path, ASCII lower-cased, `<>`
    /// for the null sender), which a relay must pass on whatever else it changes, and which the
    /// legs of a connection that a middlebox retried on a new connection share even where only
    /// one of them carries the message. A leg that never got as far as MAIL: its first HELO/EHLO
    /// line; else its first other distinctive line (AUTH). Prefixed with what it is: `mail:`,
    /// `helo:`, `line:`. Legs sharing one sender (or one message) land together, so pairing
    /// counts them as one run would.
    public var partitionKey: [UInt8] {
        if let m = commands.first(where: { $0.verb == .mail }) { return Array("mail:".utf8) + Self.path(m.text) }
        if let h = commands.first(where: { $0.verb == .helo || $0.verb == .ehlo }) { return Array("helo:".utf8) + h.text }
        if let d = commands.first(where: { Self.isDistinctive($0.verb) }) { return Array("line:".utf8) + d.text }
        return []
    }

    /// A MAIL or RCPT line's path with its brackets (`<alice@example.net>`, `<>`), ASCII
    /// lower-cased; without brackets, the word after the colon.
    static func path(_ line: [UInt8]) -> [UInt8] {
        let lower = line.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        if let open = lower.firstIndex(of: UInt8(ascii: "<")) {
            let close = lower[open...].firstIndex(of: UInt8(ascii: ">")) ?? lower.count - 1
            return Array(lower[open...close])
        }
        guard let colon = lower.firstIndex(of: UInt8(ascii: ":")) else { return lower }
        return Array(lower[(colon + 1)...].drop { $0 == 0x20 }.prefix { $0 != 0x20 })
    }

    /// Computes the sets that candidate search and scoring look up, once.
    private func index() {
        distinctiveLines = []
        for c in commands where Self.isDistinctive(c.verb) { distinctiveLines.insert(LineKey(c.text)) }
        messageIDs = Set(messages.lazy.compactMap(\.messageID))
    }
}

/// One copy of each line text among the legs held: most replies and many commands are the same
/// in every session with a server. Bounded: when full it starts afresh (legs keep their copies).
public final class TextPool {
    private var texts: [LineKey: [UInt8]] = [:]
    let limit: Int
    public init(limit: Int = 16384) { self.limit = limit }

    public func intern(_ text: [UInt8]) -> [UInt8] {
        let key = LineKey(text)
        if let known = texts[key] { return known }
        if texts.count >= limit { texts.removeAll(keepingCapacity: true) }
        texts[key] = text
        return text
    }
}

/// A command line as a set or dictionary key: its bytes hashed once, in one call (an array of
/// bytes is hashed byte by byte, and again at every lookup).
struct LineKey: Hashable {
    let bytes: [UInt8]
    private let digest: Int
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var h = Hasher()
        bytes.withUnsafeBytes { h.combine(bytes: $0) }
        digest = h.finalize()
    }
    static func == (a: LineKey, b: LineKey) -> Bool { a.digest == b.digest && a.bytes == b.bytes }
    func hash(into h: inout Hasher) { h.combine(digest) }
}

extension Leg {
    /// Several server legs seen as one dialogue, in time order (they share one clock).
    convenience init(merging legs: [Leg]) {
        let first = legs[0]
        self.init(copying: first)
        for (k, other) in legs.enumerated().dropFirst() {
            let shift = k * 1_000_000
            for var c in other.commands {
                c.index += shift
                c.transaction = c.transaction.map { $0 + shift }
                c.position += shift
                c.reply?.position += shift
                commands.append(c)
            }
            for var m in other.messages {
                m.transaction += shift
                m.position += shift
                messages.append(m)
            }
        }
        commands.sort { $0.time < $1.time }
        index()
    }
}

extension Array where Element == UInt8 {
    /// True when `self` is `other` overwritten in place with `X` (or `*`) of the same length, as
    /// inspecting firewalls do.
    func isMasked(version other: [UInt8]) -> Bool {
        guard count == other.count else { return false }
        var changed = false
        for (mine, theirs) in zip(self, other) where mine != theirs {
            guard mine == UInt8(ascii: "X") || mine == UInt8(ascii: "*") else { return false }
            changed = true
        }
        return changed
    }
}
