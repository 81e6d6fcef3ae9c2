import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small readers shared by the formats.
enum Fields {
    /// `192.0.2.10`, `2001:db8::10` (also `IPv6:2001:db8::10`, Sendmail's form).
    static func address(_ text: Substring) -> IPAddress? {
        var t = text
        if t.lowercased().hasPrefix("ipv6:") { t = t.dropFirst(5) }
        guard !t.isEmpty, t.count <= 45, t.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else { return nil }
        let s = String(t)
        if !s.contains(":") {
            var v4 = in_addr()
            guard inet_pton(AF_INET, s, &v4) == 1 else { return nil }
            return .v4(UInt32(bigEndian: v4.s_addr))
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, s, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(bytes[i]) }
        for i in 8..<16 { lo = lo << 8 | UInt64(bytes[i]) }
        return .v6(hi, lo)
    }

    /// Postfix's client: `name[address]` or `name[address]:port`; also `[address]:port`.
    static func bracketClient(_ text: Substring) -> LogClient? {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
        let name = text[..<open]
        guard let address = address(text[text.index(after: open)..<close]) else { return nil }
        var port: UInt16?
        let after = text[text.index(after: close)...]
        if after.first == ":" || after.first == "." {
            port = UInt16(after.dropFirst().prefix { $0.isASCIIDigit })
        }
        return LogClient(name: name.isEmpty ? nil : String(name), address: address, port: port)
    }

    /// The value of `key=` up to the next `, ` (Postfix and Sendmail write `key=value, key=value`).
    static func value(_ key: String, in text: Substring) -> Substring? {
        var search = text[...]
        while let r = search.firstRange(of: key + "=") {
            let atStart = r.lowerBound == text.startIndex || text[text.index(before: r.lowerBound)] == " "
            if atStart {
                let rest = text[r.upperBound...]
                if let end = rest.firstRange(of: ", ") { return rest[..<end.lowerBound] }
                return rest
            }
            search = text[r.upperBound...]
        }
        return nil
    }

    /// An address written `<a@b>` or bare, without the brackets.
    static func path(_ text: Substring) -> String {
        var t = text
        if t.first == "<" { t = t.dropFirst() }
        if let end = t.firstIndex(of: ">") { t = t[..<end] }
        return String(t)
    }

    /// The reply code at the start of `text` (`550 5.1.1 …`), when there is one.
    static func code(_ text: Substring) -> Int? {
        let head = text.prefix(4)
        guard head.count >= 3, head.prefix(3).allSatisfy(\.isASCIIDigit), head.count == 3 || head.last == " " || head.last == "-" else { return nil }
        return Int(head.prefix(3))
    }

    /// A queue id: letters and digits, at least `min` of them (Postfix 6-12 hex, or its long
    /// form; Sendmail 14), the word before a `:`.
    static func queueID(_ word: Substring, min: Int = 5) -> Bool {
        word.count >= min && word.count <= 24 && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    /// Postfix's queue id: upper-case hex (`4F3B2A17`), or the long form of `enable_long_queue_ids`
    /// (`3Tt3Qx2Z3bz9rt0`); always with digits, so that `fsspace:` tracing is not taken for one.
    static func postfixQueueID(_ word: Substring) -> Bool {
        guard queueID(word, min: 6), word.contains(where: \.isASCIIDigit) else { return false }
        return word.allSatisfy(\.isHexDigit) && !word.contains(where: \.isLowercase) || word.count >= 10
    }

    /// Exim's message id: `1pgobK-0003Dg-Un` (6-6-2), or 6-11-4 from Exim 4.97.
    static func eximID(_ word: Substring) -> Bool {
        let parts = word.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 6, (6...11).contains(parts[1].count), (2...4).contains(parts[2].count) else { return false }
        return parts.allSatisfy { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }
}

extension Substring {
    /// The last occurrence of `needle`.
    func lastRange(of needle: String) -> Range<Index>? {
        var found: Range<Index>?
        var search = self[...]
        while let r = search.firstRange(of: needle) {
            found = r
            search = self[index(after: r.lowerBound)...]
        }
        return found
    }
}
