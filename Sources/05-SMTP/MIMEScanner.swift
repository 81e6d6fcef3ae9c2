import Crypto
import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One leaf part of a message (RFC 2045, RFC 2046): a multipart message's parts that are not
/// themselves multipart, or the whole body of a message that is not multipart. Sizes and hashes
/// are of the decoded content (base64 and quoted-printable undone), as Zeek's files.log has them.
public struct MIMEPart: Sendable, Equatable {
    /// 0-based position among the message's leaf parts, in the order they were sent.
    public var index: Int
    /// `type/subtype`, lower-cased; `text/plain` when the part has no Content-Type (RFC 2045 §5.2).
    public var contentType: String
    /// The file name the part carries (Content-Disposition `filename`, else Content-Type `name`;
    /// RFC 2231 and RFC 2047 encodings decoded), as sent: it is not safe to use as a path.
    public var filename: String?
    /// Content-Disposition's type, lower-cased (`attachment`, `inline`).
    public var disposition: String?
    /// Content-Transfer-Encoding, lower-cased; nil when absent (7bit).
    public var encoding: String?
    /// Octets after decoding the transfer encoding.
    public var size = 0
    /// SHA-256 of the decoded octets, lower-case hex.
    public var sha256 = ""
    /// False when a gap in the capture fell inside the part, or the message ended before the part did.
    public var complete = true
    /// The decoded octets, only when the decoder was asked to keep them (`--export-attachments`).
    public var data: [UInt8]?

    public init(index: Int, contentType: String) {
        self.index = index
        self.contentType = contentType
    }
}

/// Finds the MIME parts of a message as its (dot-unstuffed) bytes stream past, and hashes each
/// leaf part's decoded content as it goes: nothing of the message is held but the line being read
/// (bounded) and a part's header block (bounded), unless the decoded parts are to be kept.
struct MIMEScanner {
    /// Header bytes kept per part; the rest is ignored.
    static let headerLimit = 16 * 1024
    /// Longest line kept whole to be judged (boundary, header); longer lines are body content,
    /// passed on in pieces.
    static let lineLimit = 8 * 1024
    /// Boundaries nested deeper than this are read as content (RFC 2046 sets no limit; a message
    /// built to nest forever would otherwise grow the stack).
    static let depthLimit = 32

    enum Mode {
        /// A header block (the message's, or a part's after its delimiter).
        case headers
        /// A leaf part's content.
        case body
        /// A multipart's preamble or epilogue: skipped.
        case skip
    }

    enum Encoding {
        case identity, base64, quotedPrintable
    }

    /// A leaf part being read.
    struct Open {
        var part: MIMEPart
        var encoding: Encoding
        var hash = SHA256()
        /// The line ending before the current line, held back: before a boundary it belongs to the
        /// boundary (RFC 2046 §5.1.1). 0 none, 1 LF, 2 CRLF.
        var pendingEOL = 0
        /// Base64 quantum in progress.
        var quantum: UInt32 = 0
        var quantumCount = 0
        /// Quoted-printable: the previous line ended without a soft break.
        var qpHardBreak = false
    }

    let keepData: Bool
    private(set) var parts: [MIMEPart] = []
    private var mode = Mode.headers
    /// `--boundary` of each open multipart, outermost first.
    private var boundaries: [[UInt8]] = []
    private var header: [UInt8] = []
    private var open: Open?
    /// The current line, when it came in pieces.
    private var line: [UInt8] = []
    /// The current line passed `lineLimit`: the rest of it is content, whatever it holds.
    private var longLine = false
    /// A gap fell before the next part began: that part is incomplete.
    private var lostBeforePart = false
    private var scratch: [UInt8] = []

    init(keepData: Bool) { self.keepData = keepData }

    // MARK: - Input

    /// Message bytes, dot-unstuffed, in order.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var i = 0
        let n = bytes.count
        while i < n {
            if let found = memchr(base + i, 0x0a, n - i) {
                let lf = UnsafeRawPointer(found) - base
                let piece = UnsafeRawBufferPointer(rebasing: bytes[i..<(lf + 1)])
                if line.isEmpty {
                    wholeLine(piece)
                } else {
                    line.append(contentsOf: piece)
                    let l = line
                    line.removeAll(keepingCapacity: true)
                    l.withUnsafeBytes { wholeLine($0) }
                }
                i = lf + 1
            } else {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i...]))
                if line.count > Self.lineLimit { flushLongLine() }
                i = n
            }
        }
    }

    /// Octets of the message are missing: the line being read is dropped, and the part it was in
    /// (or the next one) is incomplete.
    mutating func gap() {
        line.removeAll(keepingCapacity: true)
        longLine = false
        if open != nil {
            open?.part.complete = false
            open?.pendingEOL = 0
        } else {
            lostBeforePart = true
        }
    }

    /// The message ended: the part being read is closed (incomplete unless the message was
    /// complete and the part was the body of a single-part message or ended by its boundary).
    mutating func finish(complete: Bool) -> [MIMEPart] {
        if !line.isEmpty {
            let l = line
            line.removeAll()
            l.withUnsafeBytes { wholeLine($0) }
        }
        if mode == .headers, boundaries.isEmpty, parts.isEmpty, open == nil {
            // A message that is all header block: its body is empty.
            startPart()
        }
        if var o = open {
            open = nil
            // A part of a multipart must end at its boundary.
            if !complete || !boundaries.isEmpty { o.part.complete = false }
            flushPendingEOL(&o)
            closePart(&o)
        }
        return parts
    }

    // MARK: - Lines

    /// A line longer than `lineLimit`: neither a boundary nor worth parsing; its bytes so far are content.
    private mutating func flushLongLine() {
        let l = line
        line.removeAll(keepingCapacity: true)
        if !longLine, mode == .headers {
            header.append(contentsOf: l.prefix(max(0, Self.headerLimit - header.count)))
        }
        longLine = true
        guard mode == .body, var o = open else { return }
        open = nil
        flushPendingEOL(&o)
        l.withUnsafeBytes { content(&o, $0, quotedPrintableLineEnd: false) }
        open = o
    }

    /// A line with its LF (`raw` ends with LF).
    private mutating func wholeLine(_ raw: UnsafeRawBufferPointer) {
        let wasLong = longLine
        longLine = false
        var contentEnd = raw.count - 1
        var eol = 1
        if contentEnd > 0, raw[contentEnd - 1] == 0x0d {
            contentEnd -= 1
            eol = 2
        }
        let text = UnsafeRawBufferPointer(rebasing: raw[..<contentEnd])
        if !wasLong, !boundaries.isEmpty, text.count >= 2, text[0] == 0x2d, text[1] == 0x2d, let (level, close) = boundary(text) {
            delimiter(level: level, close: close)
            return
        }
        switch mode {
        case .skip:
            return
        case .headers:
            if text.isEmpty, !wasLong {
                endOfHeaders()
            } else if !wasLong {
                header.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw.prefix(max(0, Self.headerLimit - header.count))))
            }
        case .body:
            guard var o = open else { return }
            open = nil
            // (The rest of a long line has no line ending held before it.)
            flushPendingEOL(&o)
            content(&o, text, quotedPrintableLineEnd: true)
            o.pendingEOL = eol
            open = o
        }
    }

    /// Whether `text` (a line without its ending) is a delimiter of an open multipart: the level
    /// it belongs to and whether it closes that multipart. Transport padding (white space) may
    /// follow the boundary (RFC 2046 §5.1.1).
    private func boundary(_ text: UnsafeRawBufferPointer) -> (Int, Bool)? {
        for level in boundaries.indices.reversed() {
            let b = boundaries[level]
            guard text.count >= b.count, memcmp(text.baseAddress!, b, b.count) == 0 else { continue }
            var rest = text.count > b.count ? UnsafeRawBufferPointer(rebasing: text[b.count...]) : UnsafeRawBufferPointer(start: nil, count: 0)
            var close = false
            if rest.count >= 2, rest[0] == 0x2d, rest[1] == 0x2d {
                close = true
                rest = UnsafeRawBufferPointer(rebasing: rest[2...])
            }
            if rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return (level, close) }
        }
        return nil
    }

    private mutating func delimiter(level: Int, close: Bool) {
        if var o = open {
            open = nil
            // The line ending before the delimiter is the delimiter's (RFC 2046 §5.1.1).
            o.pendingEOL = 0
            // A delimiter of an outer multipart ends inner ones that never closed.
            if level < boundaries.count - 1 { o.part.complete = false }
            closePart(&o)
        }
        boundaries.removeSubrange((level + 1)...)
        header.removeAll(keepingCapacity: true)
        if close {
            boundaries.removeLast()
            mode = .skip
        } else {
            mode = .headers
        }
    }

    private mutating func endOfHeaders() {
        let fields = Self.fields(header)
        header.removeAll(keepingCapacity: true)
        if let type = fields.contentType, type.value.hasPrefix("multipart/"),
            let b = type.params["boundary"], !b.isEmpty, boundaries.count < Self.depthLimit
        {
            boundaries.append(Array("--".utf8) + Array(b.utf8))
            mode = .skip
            return
        }
        startPart(fields)
    }

    private mutating func startPart(_ fields: Fields = Fields()) {
        var part = MIMEPart(index: parts.count, contentType: fields.contentType?.value ?? "text/plain")
        part.filename = fields.disposition?.params["filename"] ?? fields.contentType?.params["name"]
        part.disposition = fields.disposition?.value
        part.encoding = fields.encoding
        if lostBeforePart {
            part.complete = false
            lostBeforePart = false
        }
        if keepData { part.data = [] }
        let encoding: Encoding =
            switch fields.encoding {
            case "base64": .base64
            case "quoted-printable": .quotedPrintable
            default: .identity
            }
        // Parts are listed in the order they began.
        parts.append(part)
        open = Open(part: part, encoding: encoding)
        mode = .body
    }

    /// The part is done: its hash and size go into the list.
    private mutating func closePart(_ o: inout Open) {
        if o.encoding == .base64, o.quantumCount > 1 {
            // An unpadded last quantum still carries whole octets.
            let bits = o.quantumCount * 6
            let v = o.quantum << UInt32(24 - bits)
            var out: [UInt8] = [UInt8(v >> 16 & 0xff)]
            if o.quantumCount == 3 { out.append(UInt8(v >> 8 & 0xff)) }
            out.withUnsafeBytes { emit(&o, $0) }
            o.quantumCount = 0
        }
        o.part.sha256 = Self.hex(o.hash.finalize())
        let i = o.part.index
        if parts.indices.contains(i) { parts[i] = o.part }
        mode = .skip
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Content

    private func flushPendingEOL(_ o: inout Open) {
        guard o.pendingEOL > 0 else { return }
        let n = o.pendingEOL
        o.pendingEOL = 0
        switch o.encoding {
        case .identity:
            let crlf: [UInt8] = n == 2 ? [0x0d, 0x0a] : [0x0a]
            crlf.withUnsafeBytes { emit(&o, $0) }
        case .base64, .quotedPrintable:
            // Base64 ignores line endings; quoted-printable decides at the next line.
            break
        }
    }

    /// One line's content (without its line ending), or a piece of a long line.
    private mutating func content(_ o: inout Open, _ text: UnsafeRawBufferPointer, quotedPrintableLineEnd: Bool) {
        switch o.encoding {
        case .identity:
            emit(&o, text)
        case .base64:
            base64(&o, text)
        case .quotedPrintable:
            quotedPrintable(&o, text, lineEnd: quotedPrintableLineEnd)
        }
    }

    private static let base64Values: [UInt8] = {
        var t = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored; `=` ends a quantum.
    private mutating func base64(_ o: inout Open, _ text: UnsafeRawBufferPointer) {
        var out = scratch
        scratch = []
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(text.count * 3 / 4 + 3)
        var q = o.quantum
        var count = o.quantumCount
        Self.base64Values.withUnsafeBufferPointer { table in
            for c in text {
                let v = table[Int(c)]
                if v == 0xff {
                    if c == UInt8(ascii: "="), count > 1 {
                        let w = q << UInt32(24 - count * 6)
                        out.append(UInt8(w >> 16 & 0xff))
                        if count == 3 { out.append(UInt8(w >> 8 & 0xff)) }
                        q = 0
                        count = 0
                    }
                    continue
                }
                q = q << 6 | UInt32(v)
                count += 1
                if count == 4 {
                    out.append(UInt8(q >> 16 & 0xff))
                    out.append(UInt8(q >> 8 & 0xff))
                    out.append(UInt8(q & 0xff))
                    q = 0
                    count = 0
                }
            }
        }
        o.quantum = q
        o.quantumCount = count
        out.withUnsafeBytes { emit(&o, $0) }
        scratch = out
    }

    /// Quoted-printable (RFC 2045 §6.7): `=XX` octets, `=` at a line's end a soft break; white
    /// space at a line's end is not content; a hard line break is CRLF.
    private mutating func quotedPrintable(_ o: inout Open, _ text: UnsafeRawBufferPointer, lineEnd: Bool) {
        var out = scratch
        scratch = []
        out.removeAll(keepingCapacity: true)
        if o.qpHardBreak { out += [0x0d, 0x0a] }
        o.qpHardBreak = false
        var end = text.count
        if lineEnd { while end > 0, text[end - 1] == 0x20 || text[end - 1] == 0x09 { end -= 1 } }
        var soft = false
        if lineEnd, end > 0, text[end - 1] == UInt8(ascii: "=") {
            soft = true
            end -= 1
        }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        var i = 0
        while i < end {
            let c = text[i]
            if c == UInt8(ascii: "="), i + 2 < end, let h = hex(text[i + 1]), let l = hex(text[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                // Not an escape: kept as sent (RFC 2045 §6.7 note 1 suggests leniency).
                out.append(c)
                i += 1
            }
        }
        if lineEnd, !soft { o.qpHardBreak = true }
        out.withUnsafeBytes { emit(&o, $0) }
        scratch = out
    }

    private func emit(_ o: inout Open, _ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        o.hash.update(bufferPointer: bytes)
        o.part.size += bytes.count
        if keepData { o.part.data?.append(contentsOf: bytes) }
    }

    // MARK: - Header fields

    /// A structured header value: `value; name=param; …` (RFC 2045 §5.1).
    struct Structured {
        /// The value before the parameters, lower-cased.
        var value: String
        /// Parameters by lower-cased name; RFC 2231 continuations joined and decoded, RFC 2047
        /// encoded words (used by many mailers for file names) decoded.
        var params: [String: String] = [:]
    }

    struct Fields {
        var contentType: Structured?
        var disposition: Structured?
        var encoding: String?
    }

    /// The MIME fields of a header block (unfolded; other fields ignored).
    static func fields(_ block: [UInt8]) -> Fields {
        var f = Fields()
        var unfolded: [[UInt8]] = []
        var start = 0
        var i = 0
        func endLine(_ end: Int) {
            var l = Array(block[start..<end])
            if l.last == 0x0d { l.removeLast() }
            if let first = l.first, first == 0x20 || first == 0x09, !unfolded.isEmpty {
                unfolded[unfolded.count - 1] += l
            } else {
                unfolded.append(l)
            }
        }
        while i < block.count {
            if block[i] == 0x0a {
                endLine(i)
                start = i + 1
            }
            i += 1
        }
        if start < block.count { endLine(block.count) }
        for l in unfolded {
            guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: l[..<colon], as: UTF8.self).trimmingSpaces.lowercased()
            let value = Array(l[(colon + 1)...])
            switch name {
            case "content-type" where f.contentType == nil: f.contentType = structured(value)
            case "content-disposition" where f.disposition == nil: f.disposition = structured(value)
            case "content-transfer-encoding" where f.encoding == nil:
                f.encoding = String(decoding: value, as: UTF8.self).trimmingSpaces.lowercased()
            default: break
            }
        }
        return f
    }

    /// Splits `value; a=b; c="d; e"` on the semicolons outside quotes.
    static func structured(_ raw: [UInt8]) -> Structured {
        var pieces: [[UInt8]] = []
        var current: [UInt8] = []
        var quoted = false
        var escaped = false
        for c in raw {
            if escaped {
                current.append(c)
                escaped = false
            } else if quoted, c == UInt8(ascii: "\\") {
                escaped = true
            } else if c == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if c == UInt8(ascii: ";"), !quoted {
                pieces.append(current)
                current = []
            } else {
                current.append(c)
            }
        }
        pieces.append(current)
        var s = Structured(value: String(decoding: pieces[0], as: UTF8.self).trimmingSpaces.lowercased())
        // RFC 2231 §3: name*0, name*1* … are pieces of one value; a trailing `*` means the piece
        // is percent-encoded (the first one after `charset'language'`).
        var continued: [String: [(Int, [UInt8], Bool)]] = [:]
        for p in pieces.dropFirst() {
            guard let eq = p.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: p[..<eq], as: UTF8.self).trimmingSpaces.lowercased()
            let value = Array(String(decoding: p[(eq + 1)...], as: UTF8.self).trimmingSpaces.utf8)
            guard !key.isEmpty else { continue }
            var name = key
            var extended = false
            if name.hasSuffix("*") {
                extended = true
                name.removeLast()
            }
            var number = 0
            if let star = name.lastIndex(of: "*"), let n = Int(name[name.index(after: star)...]) {
                number = n
                name = String(name[..<star])
            } else if !extended {
                if s.params[name] == nil { s.params[name] = RFC2047.decode(value) }
                continue
            }
            continued[name, default: []].append((number, value, extended))
        }
        for (name, list) in continued {
            var bytes: [UInt8] = []
            for (position, (_, v, extended)) in list.sorted(by: { $0.0 < $1.0 }).enumerated() {
                guard extended else {
                    bytes += v
                    continue
                }
                var text = v[...]
                if position == 0, let q1 = text.firstIndex(of: UInt8(ascii: "'")),
                    let q2 = text[(q1 + 1)...].firstIndex(of: UInt8(ascii: "'"))
                {
                    text = text[(q2 + 1)...]
                }
                bytes += percentDecoded(text)
            }
            // The extended form wins over a plain parameter of the same name (RFC 2231 §4).
            s.params[name] = String(decoding: bytes, as: UTF8.self)
        }
        return s
    }

    static func percentDecoded(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == UInt8(ascii: "%"), i + 2 < text.endIndex,
                let v = UInt8(String(decoding: text[(i + 1)...(i + 2)], as: UTF8.self), radix: 16)
            {
                out.append(v)
                i += 3
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
