import SMTP
import Vocabulary
import Sessions

/// One SMTP session seen as a possible leg of an intercepted connection: its commands, the reply
/// each got, its banner and its messages, in the order they crossed the wire. A class: legs are
/// held, looked up and put into pairings many times, and never change once built.
final class Leg {
    struct Line {
        var index: Int
        var time: Timestamp
        var verb: Verb
        var text: [UInt8]
        var transaction: Int?
        /// The first reply that answered it.
        var reply: ReplyLine?
        /// Where it is in the session's timeline: wire order, also among lines of one timestamp.
        var position = 0
    }

    struct ReplyLine {
        var time: Timestamp
        var code: Int
        var text: [UInt8]
        var position = 0
    }

    struct Message {
        var transaction: Int
        var end: Timestamp
        /// Where the message is in the timeline: before the end-of-data line, before a QUIT
        /// that came in the same segment.
        var position = 0
        var size: Int
        var messageID: String?
        var subject: String?
        var outcome: Outcome
    }

    /// What the TCP layer saw, enough to tell one connection captured twice from two connections.
    struct Wire {
        /// Initial sequence numbers and SYN timestamp values [client, server].
        var isn: [UInt32?] = [nil, nil]
        var synTimestamp: [UInt32?] = [nil, nil]
        /// Gaps and bytes lost in gaps [client→server, server→client].
        var gaps = [0, 0]
        var gapBytes = [0, 0]
    }

    // Only what pairing and attribution need: a finished session's full record is not kept.
    let id: Int
    let endpointClient: Endpoint
    let endpointServer: Endpoint
    let vantage: Vantage
    let start: Timestamp
    let end: Timestamp
    private(set) var commands: [Line] = []
    private(set) var banner: ReplyLine?
    private(set) var messages: [Message] = []
    /// Lines that identify a dialogue rather than being common to every dialogue.
    private(set) var distinctiveLines: Set<LineKey> = []
    private(set) var messageIDs: Set<String> = []
    private(set) var wire = Wire()
    /// The TLS handshake the leg carried, if any.
    private(set) var tls: TLSFacts?

    private init(id: Int, client: Endpoint, server: Endpoint, vantage: Vantage, start: Timestamp, end: Timestamp) {
        self.id = id
        endpointClient = client
        endpointServer = server
        self.vantage = vantage
        self.start = start
        self.end = end
    }

    private convenience init(copying other: Leg) {
        self.init(id: other.id, client: other.endpointClient, server: other.endpointServer, vantage: other.vantage, start: other.start, end: other.end)
        commands = other.commands
        banner = other.banner
        messages = other.messages
        wire = other.wire
        tls = other.tls
    }

    /// `pool` shares the lines many sessions carry alike (replies, DATA, QUIT) between the legs held.
    convenience init(session: Session, transactions: [Transaction], pool: TextPool? = nil) {
        self.init(id: session.id, client: session.client, server: session.server, vantage: session.vantage, start: session.start, end: session.end)
        tls = session.tls
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
                commands.append(Line(index: index, time: e.time, verb: verb, text: text, transaction: e.transaction, position: place))
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

    /// Computes the sets that candidate search and scoring look up, once.
    private func index() {
        distinctiveLines = []
        for c in commands where Self.isDistinctive(c.verb) { distinctiveLines.insert(LineKey(c.text)) }
        messageIDs = Set(messages.lazy.compactMap(\.messageID))
    }
}

/// One copy of each line text among the legs held: most replies and many commands are the same
/// in every session with a server. Bounded: when full it starts afresh (legs keep their copies).
final class TextPool {
    private var texts: [LineKey: [UInt8]] = [:]
    let limit: Int
    init(limit: Int = 16384) { self.limit = limit }

    func intern(_ text: [UInt8]) -> [UInt8] {
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
