import ScopeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The top-level headers of a message (RFC 5322 §2.2), as far as smtpscope reports them.
/// Values are unfolded (RFC 5322 §2.2.3) and trimmed; `subject` is also RFC 2047-decoded.
public struct MessageHeaders: Sendable, Equatable {
    /// Subject as sent (unfolded), bytes kept for exact output.
    public var rawSubject: [UInt8]?
    public var subject: String?
    public var messageID: String?
    public var from: String?
    public var to: String?
    public var cc: String?
    public var date: String?
    /// Headers asked for by name (`--header NAME`), lower-cased name to values in order.
    public var extra: [String: [String]] = [:]
    /// Number of header fields seen (all of them, stored or not).
    public var count = 0
    public init() {}
}

/// Collects header lines (bounded) while the message body streams past, then parses them.
struct HeaderCollector {
    var buffer: [UInt8] = []
    var limit: Int
    var overflow = false
    /// A gap interrupted the header block: its last, unfinished line is not to be trusted.
    var cutByGap = false

    init(limit: Int) { self.limit = limit }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let room = limit - buffer.count
        if room <= 0 {
            overflow = true
            return
        }
        if bytes.count > room { overflow = true }
        buffer.append(contentsOf: bytes.prefix(room))
    }

    /// Parses the collected header block. `wanted` are extra header names, lower-cased.
    ///
    /// One pass over the block; only the fields that are reported are copied out.
    func parse(wanted: Set<String>) -> MessageHeaders {
        var h = MessageHeaders()
        var current: (name: Known, key: String?, value: [UInt8])?
        func store(_ field: (name: Known, key: String?, value: [UInt8])) {
            let value = trim(field.value)
            switch field.name {
            case .subject where h.rawSubject == nil:
                h.rawSubject = value
                h.subject = RFC2047.decode(value)
            case .messageID where h.messageID == nil: h.messageID = text(value)
            case .from where h.from == nil: h.from = RFC2047.decode(value)
            case .to where h.to == nil: h.to = RFC2047.decode(value)
            case .cc where h.cc == nil: h.cc = RFC2047.decode(value)
            case .date where h.date == nil: h.date = text(value)
            default: break
            }
            if let key = field.key { h.extra[key, default: []].append(RFC2047.decode(value)) }
        }
        var complete = buffer[...]
        if cutByGap { complete = complete[..<(complete.lastIndex(of: 0x0a).map { $0 + 1 } ?? 0)] }
        complete.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                // One physical line: [i, end) without its CR LF.
                let lf = memchr(b.baseAddress! + i, 0x0a, b.count - i)
                let j = lf.map { UnsafeRawPointer($0) - UnsafeRawPointer(b.baseAddress!) } ?? b.count
                var end = j
                if end > i, b[end - 1] == 0x0d { end -= 1 }
                let line = i
                i = j + 1
                if end == line { break }
                if b[line] == 0x20 || b[line] == 0x09 {
                    // Folded continuation (RFC 5322 §2.2.3): unfolding removes the CRLF only.
                    current?.value.append(contentsOf: UnsafeBufferPointer(rebasing: b[line..<end]))
                    continue
                }
                guard let colon = b[line..<end].firstIndex(of: 0x3a) else { continue }
                if let field = current { store(field) }
                current = nil
                h.count += 1
                // The name, lower-cased, without surrounding blanks.
                var nameStart = line, nameEnd = colon
                while nameStart < nameEnd, b[nameStart] == 0x20 || b[nameStart] == 0x09 { nameStart += 1 }
                while nameEnd > nameStart, b[nameEnd - 1] == 0x20 || b[nameEnd - 1] == 0x09 { nameEnd -= 1 }
                let name = UnsafeBufferPointer(rebasing: b[nameStart..<nameEnd])
                let known = Known(name)
                var key: String?
                if !wanted.isEmpty {
                    let lower = String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
                    if wanted.contains(lower) { key = lower }
                }
                if known != .other || key != nil {
                    current = (known, key, Array(b[(colon + 1)..<end]))
                }
            }
        }
        if let field = current { store(field) }
        return h
    }

    /// The header fields reported without being asked for.
    enum Known {
        case subject, messageID, from, to, cc, date, other

        init(_ name: UnsafeBufferPointer<UInt8>) {
            func named(_ literal: StaticString) -> Bool {
                guard name.count == literal.utf8CodeUnitCount else { return false }
                for k in 0..<name.count {
                    let c = name[k]
                    if (c >= 65 && c <= 90 ? c | 0x20 : c) != literal.utf8Start[k] { return false }
                }
                return true
            }
            switch name.count {
            case 7 where named("subject"): self = .subject
            case 10 where named("message-id"): self = .messageID
            case 4 where named("from"): self = .from
            case 2 where named("to"): self = .to
            case 2 where named("cc"): self = .cc
            case 4 where named("date"): self = .date
            default: self = .other
            }
        }
    }

    private func trim(_ v: [UInt8]) -> [UInt8] {
        var s = v[...]
        while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 || l == 0x0d { s = s.dropLast() }
        return Array(s)
    }

    private func text(_ v: [UInt8]) -> String { String(decoding: v, as: UTF8.self) }
}

/// RFC 2047 encoded-word decoding: `=?charset?B|Q?text?=`. White space between two adjacent
/// encoded words is dropped (§6.2). Charsets other than UTF-8, US-ASCII and ISO-8859-1 are
/// converted with the C library's iconv; an unknown charset or bad encoding leaves the word as sent.
public enum RFC2047 {
    public static func decode(_ raw: [UInt8]) -> String {
        // Most header values have no encoded word: then the text is the bytes as they are.
        guard raw.indices.dropLast().contains(where: { raw[$0] == 0x3d && raw[$0 + 1] == 0x3f }) else {
            return String(decoding: raw, as: UTF8.self)
        }
        var out = ""
        var i = 0
        var pendingSpace: [UInt8] = []
        var lastWasEncoded = false
        while i < raw.count {
            if raw[i] == 0x3d, i + 1 < raw.count, raw[i + 1] == 0x3f, let (decoded, next) = word(raw, at: i) {
                // Space between two encoded words is dropped.
                if !lastWasEncoded { out += String(decoding: pendingSpace, as: UTF8.self) }
                pendingSpace = []
                out += decoded
                i = next
                lastWasEncoded = true
                continue
            }
            if raw[i] == 0x20 || raw[i] == 0x09 {
                pendingSpace.append(raw[i])
                i += 1
                continue
            }
            out += String(decoding: pendingSpace, as: UTF8.self)
            pendingSpace = []
            var j = i
            while j < raw.count, raw[j] != 0x20, raw[j] != 0x09, !(raw[j] == 0x3d && j + 1 < raw.count && raw[j + 1] == 0x3f) { j += 1 }
            if j == i { j += 1 }
            out += String(decoding: raw[i..<j], as: UTF8.self)
            i = j
            lastWasEncoded = false
        }
        out += String(decoding: pendingSpace, as: UTF8.self)
        return out
    }

    /// Decodes one encoded word starting at `start` (at `=?`); returns the text and the index after `?=`.
    static func word(_ raw: [UInt8], at start: Int) -> (String, Int)? {
        var i = start + 2
        func field() -> [UInt8]? {
            let s = i
            while i < raw.count, raw[i] != 0x3f {
                if raw[i] == 0x20 || raw[i] == 0x09 || i - s > 75 { return nil }
                i += 1
            }
            guard i < raw.count else { return nil }
            defer { i += 1 }
            return Array(raw[s..<i])
        }
        guard var charset = field(), let encoding = field(), encoding.count == 1 else { return nil }
        // The text ends at `?=`.
        let s = i
        while i + 1 < raw.count, !(raw[i] == 0x3f && raw[i + 1] == 0x3d) { i += 1 }
        guard i + 1 < raw.count else { return nil }
        let text = raw[s..<i]
        i += 2
        if let star = charset.firstIndex(of: 0x2a) { charset = Array(charset[..<star]) }  // RFC 2231 language
        let bytes: [UInt8]
        switch encoding[0] | 0x20 {
        case UInt8(ascii: "b"):
            guard let d = Base64.decode(text) else { return nil }
            bytes = d
        case UInt8(ascii: "q"):
            bytes = quotedPrintable(text)
        default:
            return nil
        }
        guard let string = convert(bytes, from: String(decoding: charset, as: UTF8.self)) else { return nil }
        return (string, i)
    }

    static func quotedPrintable(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var i = text.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        while i < text.endIndex {
            let c = text[i]
            if c == 0x5f {
                out.append(0x20)
            } else if c == 0x3d, i + 2 < text.endIndex, let h = hex(text[i + 1]), let l = hex(text[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(c)
            }
            i += 1
        }
        return out
    }

    /// Converts `bytes` in `charset` to a String; nil when the charset is unknown or the bytes invalid.
    public static func convert(_ bytes: [UInt8], from charset: String) -> String? {
        let cs = charset.lowercased()
        switch cs {
        case "utf-8", "utf8", "us-ascii", "ascii":
            return String(validating: bytes, as: UTF8.self) ?? String(decoding: bytes, as: UTF8.self)
        case "iso-8859-1", "latin1", "iso8859-1":
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        default:
            return iconvConvert(bytes, from: cs)
        }
    }

    private static func iconvConvert(_ bytes: [UInt8], from charset: String) -> String? {
        let cd = iconv_open("UTF-8", charset)
        guard cd != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(cd) }
        var input = bytes.map { CChar(bitPattern: $0) }
        var output = [CChar](repeating: 0, count: bytes.count * 4 + 16)
        let ok: Bool = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                var inPtr: UnsafeMutablePointer<CChar>? = inBuf.baseAddress
                var inLeft = inBuf.count
                var outPtr: UnsafeMutablePointer<CChar>? = outBuf.baseAddress
                var outLeft = outBuf.count
                let rc = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                if rc == -1 { return false }
                let produced = outBuf.count - outLeft
                outBuf[produced] = 0
                return true
            }
        }
        guard ok, let end = output.firstIndex(of: 0) else { return nil }
        return String(decoding: output[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
