import SMTP
import ScopeCore
import Sessions

/// One SMTP session seen as a possible leg of an intercepted connection: its commands, the reply
/// each got, its banner and its messages, in the order they crossed the wire.
struct Leg {
    struct Line {
        var index: Int
        var time: Timestamp
        var verb: Verb
        var text: [UInt8]
        var transaction: Int?
        /// The first reply that answered it.
        var reply: ReplyLine?
    }

    struct ReplyLine {
        var time: Timestamp
        var code: Int
        var text: [UInt8]
    }

    struct Message {
        var transaction: Int
        var end: Timestamp
        var size: Int
        var messageID: String?
        var subject: String?
        var outcome: Outcome
    }

    // Only what pairing and attribution need: a finished session's full record is not kept.
    let id: Int
    let endpointClient: Endpoint
    let endpointServer: Endpoint
    let vantage: Vantage
    let start: Timestamp
    let end: Timestamp
    var commands: [Line] = []
    var banner: ReplyLine?
    var messages: [Message] = []
    /// Lines that identify a dialogue rather than being common to every dialogue.
    private(set) var distinctiveLines: Set<[UInt8]> = []
    private(set) var messageIDs: Set<String> = []

    init(session: Session, transactions: [Transaction]) {
        id = session.id
        endpointClient = session.client
        endpointServer = session.server
        vantage = session.vantage
        start = session.start
        end = session.end
        let byIndex = Dictionary(transactions.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        var position: [Int: Int] = [:]  // command index -> place in `commands`
        for e in session.timeline {
            switch e.kind {
            case .command(let index, let verb, _):
                position[index] = commands.count
                commands.append(Line(index: index, time: e.time, verb: verb, text: e.line, transaction: e.transaction))
            case .reply(let code, let answering):
                let r = ReplyLine(time: e.time, code: code, text: e.line)
                if let answering {
                    if let k = position[answering], commands[k].reply == nil { commands[k].reply = r }
                } else if banner == nil {
                    banner = r
                }
            case .message:
                if let n = e.transaction, let t = byIndex[n] {
                    messages.append(Message(transaction: n, end: e.time, size: t.size ?? 0, messageID: t.headers?.messageID, subject: t.headers?.subject, outcome: t.outcome))
                }
            case .tls, .gap, .note:
                break
            }
        }
        index()
    }

    /// Computes the sets that candidate search and scoring look up, once.
    mutating func index() {
        distinctiveLines = Set(commands.lazy.filter { [.helo, .ehlo, .mail, .rcpt, .auth].contains($0.verb) }.map(\.text))
        messageIDs = Set(messages.lazy.compactMap(\.messageID))
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
