import SMTP
import Vocabulary
import Sessions

/// A scripted SMTP dialogue: lines from each side, fed to a `SessionBuilder` the way the
/// reassembler would deliver them.
struct Dialogue {
    enum Step {
        case client(String)
        case server(String)
        case clientGap(Int)
        case serverGap(Int)
    }

    var steps: [Step]

    init(_ steps: [Step]) { self.steps = steps }

    /// Builds the session; `split` cuts each step's bytes into pieces (default: whole).
    func run(options: SMTPDecoder.Options = .init(), split: ([UInt8]) -> [[UInt8]] = { [$0] }) -> (Session, [Transaction]) {
        let ep1 = Endpoint(.v4(0xc000_020a), 50000), ep2 = Endpoint(.v4(0xc633_6419), 25)
        let builder = SessionBuilder(session: Session(id: 1, client: ep1, server: ep2, vantage: Vantage(file: 0), start: .zero, end: .zero), decoderOptions: options)
        var txns: [Transaction] = []
        var t: Int64 = 0
        for step in steps {
            t += 1_000_000
            let time = Timestamp(nanoseconds: t)
            switch step {
            case .client(let s):
                for piece in split(Array(s.utf8)) { piece.withUnsafeBytes { builder.receive(.toServer, $0, at: time) } }
            case .server(let s):
                for piece in split(Array(s.utf8)) { piece.withUnsafeBytes { builder.receive(.toClient, $0, at: time) } }
            case .clientGap(let n): builder.gap(.toServer, length: n, at: time)
            case .serverGap(let n): builder.gap(.toClient, length: n, at: time)
            }
            txns += builder.takeFinished()
        }
        let s = builder.close(reason: .fin, at: Timestamp(nanoseconds: t + 1))
        txns += builder.takeFinished()
        return (s, txns)
    }

    /// Every decoder event for the dialogue fed in pieces, in a comparable text form.
    func events(split: ([UInt8]) -> [[UInt8]] = { [$0] }) -> [String] {
        let d = SMTPDecoder()
        var out: [String] = []
        for step in steps {
            switch step {
            case .client(let s): for p in split(Array(s.utf8)) { p.withUnsafeBytes { d.receive(.toServer, $0, at: .zero) } }
            case .server(let s): for p in split(Array(s.utf8)) { p.withUnsafeBytes { d.receive(.toClient, $0, at: .zero) } }
            case .clientGap(let n): d.gap(.toServer, length: n, at: .zero)
            case .serverGap(let n): d.gap(.toClient, length: n, at: .zero)
            }
            out += d.takeEvents().map(describe)
        }
        d.finish(at: .zero)
        out += d.takeEvents().map(describe)
        return out
    }
}

func describe(_ e: SMTPEvent) -> String {
    switch e {
    case .command(let c): return "C \(c.verb.name) \(String(decoding: c.line, as: UTF8.self)) addr=\(c.address ?? "-") g=\(c.group)"
    case .reply(let r, let i, let v): return "S \(r.code) \(r.enhanced ?? "-") lines=\(r.lines.count) -> \(i.map(String.init) ?? "nil") \(v?.name ?? "-")"
    case .messageStarted: return "M start"
    case .messageEnded(let m): return "M end size=\(m.size) complete=\(m.complete) subject=\(m.headers.subject ?? "-") id=\(m.headers.messageID ?? "-")"
    case .tlsStarted: return "TLS"
    case .gap(let d, let n, _): return "GAP \(d) \(n)"
    case .anomaly(let a): return "A \(a.name)"
    }
}

/// Deterministic pseudo-random numbers (SplitMix64), so failures reproduce.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    /// Splits into pieces of random sizes (1...maxPiece).
    func randomPieces(_ rng: inout SeededRandom, maxPiece: Int = 7) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < count {
            let n = Int.random(in: 1...maxPiece, using: &rng)
            out.append(Array(self[i..<Swift.min(i + n, count)]))
            i += n
        }
        return out
    }
}
