import SMTP
import Vocabulary
import Sessions

/// Reads a `leg` record (one JSON line, docs/output.md) back into the `Leg` it was written from.
/// A small parser of its own: line texts carry every byte of the wire (`\u0080`…`\u00ff` is the
/// byte, as the writer writes it), which a JSON library would read as characters; and it is
/// quicker: 100 000 legs of the benchmark corpus (184 MB) in 2.5 s, where Foundation's
/// JSONDecoder took 7.4 to 9.9 s into Codable structs on the same machine.
///
/// Bytes in, a value out; a line that is not a well-formed leg record gives nil, never a crash.
public enum LegRecord {
    /// The parts of a leg record that name it, before ids are given to it.
    public struct Parsed {
        /// The `capture.file` it was read from, and the pcapng interface.
        public var captureFile: String
        public var interface: Int
        /// Builds the leg with `id` (unique among the legs given to one finder) and `capture`
        /// (the number standing for `captureFile`, which tells clocks apart).
        public let make: (_ id: Int, _ capture: Int) -> Leg
        /// When the session ended: legs are merged from several inputs in this order.
        public var end: Timestamp
    }

    /// The verb as the record writes it; the two pseudo-commands get names no command word can
    /// have (a word has no space).
    public static func verbName(_ v: Verb) -> String {
        switch v {
        case .endOfData: return "(end of data)"
        case .authResponse: return "(auth response)"
        default: return v.name
        }
    }

    static func verb(_ name: [UInt8]) -> Verb {
        switch name {
        case Array("(end of data)".utf8): return .endOfData
        case Array("(auth response)".utf8): return .authResponse
        default: return Verb(name)
        }
    }

    /// Whether `line` is a leg record, known from its start (`{"type":"leg"`) without parsing it.
    public static func isLeg<C: Collection>(_ line: C) -> Bool where C.Element == UInt8 {
        line.starts(with: prefix)
    }
    private static let prefix = Array(#"{"type":"leg","#.utf8)

    /// Parses one leg record; nil when the line is not one or is damaged.
    public static func parse(_ line: [UInt8]) -> Parsed? {
        var p = JSONScanner(line)
        guard let root = p.value(), p.atEnd, case .object(let fields) = root, fields.string("type") == "leg" else { return nil }
        guard let session = fields.int("session"),
              case .object(let capture)? = fields["capture"], let file = capture.string("file"),
              let client = fields.string("client").flatMap(Self.endpoint), let server = fields.string("server").flatMap(Self.endpoint),
              let t0 = fields.int("start_ns"), let tEnd = fields.int("end_ns"),
              case .array(let commandList)? = fields["commands"], case .array(let messageList)? = fields["messages"]
        else { return nil }
        let interface = capture.int("interface") ?? 0
        let start = Timestamp(nanoseconds: Int64(t0)), end = Timestamp(nanoseconds: Int64(tEnd))
        func time(_ v: Int) -> Timestamp { Timestamp(nanoseconds: Int64(t0) &+ Int64(v)) }
        func reply(_ v: JSONScanner.Value?) -> Leg.ReplyLine?? {
            switch v {
            case .null?: return .some(nil)
            case .object(let r)?:
                guard let t = r.int("t"), let code = r.int("code"), let text = r.bytes("line") else { return nil }
                return .some(Leg.ReplyLine(time: time(t), code: code, text: text, position: r.int("p") ?? 0))
            default: return nil
            }
        }
        func pair(_ key: String) -> [UInt32?]? {
            guard case .array(let a)? = fields[key], a.count == 2 else { return nil }
            var out: [UInt32?] = []
            for v in a {
                switch v {
                case .null: out.append(nil)
                case .int(let n): guard let x = UInt32(exactly: n) else { return nil }; out.append(x)
                default: return nil
                }
            }
            return out
        }
        func counts(_ key: String) -> [Int]? {
            guard case .array(let a)? = fields[key], a.count == 2 else { return nil }
            let out = a.compactMap { v -> Int? in if case .int(let n) = v { n } else { nil } }
            return out.count == 2 ? out : nil
        }
        guard let isn = pair("isn"), let syn = pair("syn_tsval"), let gaps = counts("gaps"), let gapBytes = counts("gap_bytes"),
              let banner = reply(fields["banner"])
        else { return nil }
        var tls: Leg.TLS?
        switch fields["tls"] {
        case .null?: tls = nil
        case .object(let t)?: tls = Leg.TLS(issuer: t.string("issuer"), ja3: t.string("ja3"))
        default: return nil
        }
        var commands: [Leg.Line] = []
        commands.reserveCapacity(commandList.count)
        for v in commandList {
            guard case .object(let c) = v, let i = c.int("i"), let t = c.int("t"), let verbName = c.bytes("verb"), let text = c.bytes("line"),
                  let r = reply(c["reply"])
            else { return nil }
            commands.append(Leg.Line(index: i, time: time(t), verb: verb(verbName), text: text, transaction: c.int("txn"), reply: r, position: c.int("p") ?? 0))
        }
        var messages: [Leg.Message] = []
        for v in messageList {
            guard case .object(let m) = v, let n = m.int("txn"), let t = m.int("t"), let size = m.int("size"),
                  let outcome = m.string("outcome").flatMap(Outcome.init(rawValue:))
            else { return nil }
            messages.append(Leg.Message(transaction: n, end: time(t), position: m.int("p") ?? 0, size: size, messageID: m.string("message_id"), subject: m.string("subject"), outcome: outcome))
        }
        let wire = Leg.Wire(isn: isn, synTimestamp: syn, gaps: gaps, gapBytes: gapBytes)
        return Parsed(captureFile: file, interface: interface, make: { id, captureNumber in
            Leg(id: id, session: session, client: client, server: server, vantage: Vantage(file: captureNumber, interface: interface),
                start: start, end: end, commands: commands, banner: banner, messages: messages, wire: wire, tls: tls)
        }, end: end)
    }

    /// `192.0.2.1:25`, `[2001:db8::1]:25`, as `Endpoint.description` writes them.
    public static func endpoint(_ text: String) -> Endpoint? {
        let b = Array(text.utf8)
        guard let colon = b.lastIndex(of: UInt8(ascii: ":")), let port = UInt16(String(decoding: b[(colon + 1)...], as: UTF8.self)) else { return nil }
        let host = b[..<colon]
        if host.first == UInt8(ascii: "[") {
            guard host.last == UInt8(ascii: "]"), let a = ipv6(Array(host.dropFirst().dropLast())) else { return nil }
            return Endpoint(a, port)
        }
        guard let a = ipv4(Array(host)) else { return nil }
        return Endpoint(.v4(a), port)
    }

    static func ipv4(_ b: [UInt8]) -> UInt32? {
        let parts = b.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var a: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = UInt32(String(decoding: p, as: UTF8.self)), v <= 255 else { return nil }
            a = a << 8 | v
        }
        return a
    }

    /// RFC 4291 §2.2 text: groups of hex, one `::`, an IPv4 tail.
    static func ipv6(_ b: [UInt8]) -> IPAddress? {
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        var seenDouble = false
        // The text before and after the one `::`, if any.
        var halves = [String(decoding: b, as: UTF8.self)]
        if let k = b.indices.dropLast().first(where: { b[$0] == UInt8(ascii: ":") && b[$0 + 1] == UInt8(ascii: ":") }) {
            let rest = b[(k + 2)...]
            guard !rest.indices.dropLast().contains(where: { rest[$0] == UInt8(ascii: ":") && rest[$0 + 1] == UInt8(ascii: ":") }) else { return nil }
            halves = [String(decoding: b[..<k], as: UTF8.self), String(decoding: rest, as: UTF8.self)]
        }
        seenDouble = halves.count == 2
        func parse(_ s: String, into out: inout [UInt16], allowIPv4: Bool) -> Bool {
            guard !s.isEmpty else { return true }
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (k, p) in parts.enumerated() {
                if allowIPv4, k == parts.count - 1, p.contains(".") {
                    guard let v4 = ipv4(Array(p.utf8)) else { return false }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                } else {
                    guard !p.isEmpty, p.count <= 4, let g = UInt16(p, radix: 16) else { return false }
                    out.append(g)
                }
            }
            return true
        }
        guard parse(halves[0], into: &groups, allowIPv4: !seenDouble) else { return nil }
        if seenDouble { guard parse(halves[1], into: &tailGroups, allowIPv4: true) else { return nil } }
        let missing = 8 - groups.count - tailGroups.count
        guard seenDouble ? missing >= 1 : missing == 0 else { return nil }
        let all = groups + Array(repeating: 0, count: seenDouble ? missing : 0) + tailGroups
        var hi: UInt64 = 0, lo: UInt64 = 0
        for g in all[0..<4] { hi = hi << 16 | UInt64(g) }
        for g in all[4..<8] { lo = lo << 16 | UInt64(g) }
        return .v6(hi, lo)
    }
}

/// A JSON parser for one record: values with integers kept exact (nanosecond times), strings kept
/// as their escaped bytes until asked for, as bytes (`\u00NN` is the byte NN) or as text.
struct JSONScanner {
    enum Value {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(ArraySlice<UInt8>)
        case array([Value])
        case object(Fields)
    }

    /// An object's members in order; looked up by key (records have a few keys each).
    struct Fields {
        var members: [(key: ArraySlice<UInt8>, value: Value)] = []
        subscript(key: String) -> Value? {
            var k = key
            return k.withUTF8 { kb in members.first { $0.key.elementsEqual(kb) }?.value }
        }
        func int(_ key: String) -> Int? { if case .int(let v)? = self[key] { v } else { nil } }
        func bytes(_ key: String) -> [UInt8]? { if case .string(let s)? = self[key] { JSONScanner.unescape(s, bytes: true) } else { nil } }
        func string(_ key: String) -> String? {
            if case .string(let s)? = self[key], let b = JSONScanner.unescape(s, bytes: false) { String(decoding: b, as: UTF8.self) } else { nil }
        }
    }

    private let b: [UInt8]
    private var i = 0
    /// Nesting allowed (a leg record nests four deep): damaged input cannot recurse without bound.
    private static let maxDepth = 16

    init(_ bytes: [UInt8]) { b = bytes }

    var atEnd: Bool {
        mutating get {
            skipSpace()
            return i == b.count
        }
    }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0a || b[i] == 0x0d { i += 1 }
    }

    mutating func value(depth: Int = 0) -> Value? {
        skipSpace()
        guard i < b.count, depth < Self.maxDepth else { return nil }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var f = Fields()
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(f) }
            while true {
                skipSpace()
                guard let k = rawString() else { return nil }
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let v = value(depth: depth + 1) else { return nil }
                f.members.append((k, v))
                skipSpace()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(f) }
                return nil
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [Value] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                guard let v = value(depth: depth + 1) else { return nil }
                a.append(v)
                skipSpace()
                guard i < b.count else { return nil }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                return nil
            }
        case UInt8(ascii: "\""):
            return rawString().map(Value.string)
        case UInt8(ascii: "n"): return literal("null", .null)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        default: return number()
        }
    }

    private mutating func literal(_ word: StaticString, _ v: Value) -> Value? {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count, b[i..<(i + n)].elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: n)) else { return nil }
        i += n
        return v
    }

    private mutating func number() -> Value? {
        let start = i
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        var integer = true
        while i < b.count {
            let c = b[i]
            if c >= 48 && c <= 57 { i += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { integer = false; i += 1; continue }
            break
        }
        guard i > start else { return nil }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if integer, let v = Int(text) { return .int(v) }
        return Double(text).map(Value.double)
    }

    /// A string's bytes between its quotes, escapes left as they are.
    private mutating func rawString() -> ArraySlice<UInt8>? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        let start = i
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\""):
                defer { i += 1 }
                return b[start..<i]
            case 0x5c: i += 2
            default: i += 1
            }
        }
        return nil
    }

    /// A string's escapes resolved. `bytes`: `\u0000`…`\u00ff` is that byte (the `leg` record's
    /// exact bytes); otherwise every `\uNNNN` is a character, written as UTF-8.
    static func unescape(_ s: ArraySlice<UInt8>, bytes: Bool) -> [UInt8]? {
        guard s.contains(0x5c) else { return Array(s) }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= s.endIndex else { return nil }
            var v: UInt32 = 0
            for c in s[at..<(at + 4)] {
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 97...102: d = UInt32(c - 87)
                case 65...70: d = UInt32(c - 55)
                default: return nil
                }
                v = v << 4 | d
            }
            return v
        }
        while i < s.endIndex {
            let c = s[i]
            guard c == 0x5c else { out.append(c); i += 1; continue }
            guard i + 1 < s.endIndex else { return nil }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "u"):
                guard var v = hex4(i) else { return nil }
                i += 4
                if bytes, v < 0x100 { out.append(UInt8(v)); continue }
                // A surrogate pair is one character.
                if v >= 0xd800, v < 0xdc00, i + 6 <= s.endIndex, s[i] == 0x5c, s[i + 1] == UInt8(ascii: "u"), let lo = hex4(i + 2), lo >= 0xdc00, lo < 0xe000 {
                    v = 0x10000 + (v - 0xd800) << 10 + (lo - 0xdc00)
                    i += 6
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{fffd}").utf8))
            default: out.append(e)  // \" \\ \/
            }
        }
        return out
    }
}
