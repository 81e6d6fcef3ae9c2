import Vocabulary
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The top-level headers of a message (RFC 5322 §2.2), as far as smtpscope reports them.
/// Values are unfolded (RFC 5322 §2.2.3) and trimmed; `subject`, `from`, `to`, `cc` and the extra
/// headers are also RFC 2047-decoded. Raw 8-bit bytes outside encoded words are read as UTF-8 when
/// they are valid UTF-8, else in the charset the message's Content-Type declares, else as
/// windows-1252 (`HeaderText`).
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
    /// Fields asked for as sent (`SMTPDecoder.Options.rawHeaders`), in message order: for other
    /// tools' formats that log header values undecoded (Zeek's smtp.log).
    public var raw: [RawField] = []
    /// Number of header fields seen (all of them, stored or not).
    public var count = 0
    public init() {}

    /// One header field as sent: lower-cased name; value unfolded (CRLF removed) and trimmed, not
    /// decoded.
    public struct RawField: Sendable, Equatable {
        public var name: String
        public var value: [UInt8]
        public init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }
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

    /// Parses the collected header block. `wanted` are extra header names, lower-cased; `raw`
    /// names whose values are kept as sent, lower-cased.
    ///
    /// One pass over the block; only the fields that are reported are copied out.
    func parse(wanted: Set<String>, raw rawWanted: Set<String> = []) -> MessageHeaders {
        var h = MessageHeaders()
        var current: (name: Known, key: String?, rawKey: String?, value: [UInt8])?
        // Values are kept as bytes until the block's end: the Content-Type that says their charset
        // may come after them.
        var raw: [Known: [UInt8]] = [:]
        var extra: [(key: String, value: [UInt8])] = []
        func store(_ field: (name: Known, key: String?, rawKey: String?, value: [UInt8])) {
            let value = trim(field.value)
            if field.name != .other, raw[field.name] == nil { raw[field.name] = value }
            if let key = field.key { extra.append((key, value)) }
            if let key = field.rawKey { h.raw.append(MessageHeaders.RawField(name: key, value: value)) }
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
                var key: String?, rawKey: String?
                if !wanted.isEmpty || !rawWanted.isEmpty {
                    let lower = String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
                    if wanted.contains(lower) { key = lower }
                    if rawWanted.contains(lower) { rawKey = lower }
                }
                if known != .other || key != nil || rawKey != nil {
                    current = (known, key, rawKey, Array(b[(colon + 1)..<end]))
                }
            }
        }
        if let field = current { store(field) }
        let charset = raw[.contentType].flatMap(HeaderText.charsetParameter)
        if let v = raw[.subject] {
            h.rawSubject = v
            h.subject = RFC2047.decode(v, charset: charset)
        }
        h.messageID = raw[.messageID].map { HeaderText.decode($0, charset: charset) }
        h.from = raw[.from].map { RFC2047.decode($0, charset: charset) }
        h.to = raw[.to].map { RFC2047.decode($0, charset: charset) }
        h.cc = raw[.cc].map { RFC2047.decode($0, charset: charset) }
        h.date = raw[.date].map { HeaderText.decode($0, charset: charset) }
        for (key, value) in extra { h.extra[key, default: []].append(RFC2047.decode(value, charset: charset)) }
        return h
    }

    /// The header fields reported without being asked for.
    enum Known {
        case subject, messageID, from, to, cc, date, contentType, other

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
            case 12 where named("content-type"): self = .contentType
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
}

/// RFC 2047 encoded-word decoding: `=?charset?B|Q?text?=`. White space between two adjacent
/// encoded words is dropped (§6.2). Charsets other than UTF-8, US-ASCII and ISO-8859-1 are
/// converted with the C library's iconv; an unknown charset or bad encoding leaves the word as sent.
public enum RFC2047 {
    /// `charset`: the message's declared charset, for raw 8-bit text outside encoded words.
    public static func decode(_ raw: [UInt8], charset: String? = nil) -> String {
        // Most header values have no encoded word: then the text is the bytes as they are.
        guard raw.indices.dropLast().contains(where: { raw[$0] == 0x3d && raw[$0 + 1] == 0x3f }) else {
            return HeaderText.decode(raw, charset: charset)
        }
        // Raw text between the encoded words: valid UTF-8 as a whole is read as UTF-8.
        let rawCharset = String(validating: raw, as: UTF8.self) == nil ? charset ?? "windows-1252" : nil
        func text(_ bytes: ArraySlice<UInt8>) -> String {
            rawCharset.map { HeaderText.decode(Array(bytes), charset: $0) } ?? String(decoding: bytes, as: UTF8.self)
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
            out += text(raw[i..<j])
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

/// Header text outside encoded words. RFC 5322 allows only ASCII there, but mail carries raw
/// 8-bit bytes: UTF-8 (RFC 6532), or a legacy charset. Mail readers read them in the charset the
/// message declares and fall back on windows-1252 as browsers do (WHATWG Encoding); a decoder
/// that printed U+FFFD would lose what the sender wrote.
public enum HeaderText {
    /// ASCII and valid UTF-8 as they are; else `charset` (a MIME charset name), else windows-1252.
    public static func decode(_ raw: [UInt8], charset: String?) -> String {
        if !raw.contains(where: { $0 >= 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        if let s = String(validating: raw, as: UTF8.self) { return s }
        if let charset, let label = legacyLabel(charset), let s = RFC2047.convert(raw, from: label) { return s }
        return windows1252(raw)
    }

    /// The name to convert with, for a declared charset that can describe 8-bit bytes that are not
    /// UTF-8; nil for those that cannot (UTF-8 itself) or that mean windows-1252 anyway.
    /// The aliases are WHATWG's: US-ASCII and ISO-8859-1 labels are decoded as windows-1252, and
    /// the older Chinese, Japanese and Korean names as their supersets.
    static func legacyLabel(_ charset: String) -> String? {
        let cs = charset.lowercased()
        switch cs {
        case "utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "l1", "windows-1252", "cp1252", "x-cp1252": return nil
        case "gb2312", "x-gbk", "gbk", "gb_2312-80", "chinese", "csgb2312": return "GBK"
        case "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "windows-31j", "csshiftjis": return "CP932"
        case "big5", "x-x-big5", "csbig5", "big5-hkscs": return "BIG5-HKSCS"
        case "ks_c_5601-1987", "euc-kr", "cseuckr", "korean", "windows-949": return "CP949"
        default: return cs
        }
    }

    /// The `charset` parameter of a Content-Type value (RFC 2045 §5.1), unquoted; nil when absent.
    static func charsetParameter(_ value: [UInt8]) -> String? {
        for param in value.split(separator: UInt8(ascii: ";")).dropFirst() {
            guard let eq = param.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: param[..<eq], as: UTF8.self).trimmingBlanks.lowercased()
            guard name == "charset" else { continue }
            var v = String(decoding: param[(eq + 1)...], as: UTF8.self).trimmingBlanks
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            return v.isEmpty ? nil : v
        }
        return nil
    }

    /// windows-1252 as WHATWG defines it: Latin-1 but for 0x80–0x9F, where 27 bytes are
    /// typographic characters and the five undefined ones (0x81, 0x8D, 0x8F, 0x90, 0x9D) stay the
    /// C1 code points of the same value.
    public static func windows1252(_ bytes: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes {
            let v = b >= 0x80 && b <= 0x9f ? c1[Int(b - 0x80)] : UInt32(b)
            scalars.append(Unicode.Scalar(v) ?? Unicode.Scalar(b))
        }
        return String(scalars)
    }

    private static let c1: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]
}
