import Vocabulary

/// Pulls the queue identifier out of the reply that accepted a message. Each MTA words it
/// differently; the patterns below are the documented or observed forms. Works on the reply's
/// bytes (one call per accepted message).
public enum QueueID {
    public static func extract(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        let words = bytes.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
        func word(_ i: Int, is lower: StaticString) -> Bool {
            words[i].count == lower.utf8CodeUnitCount && ASCII.hasPrefix(words[i], lowercased: lower)
        }
        // Postfix: "Ok: queued as 4F3B2A17"; many others: "queued as <id>".
        if let i = words.indices.first(where: { $0 > 0 && word($0, is: "as") && word($0 - 1, is: "queued") }), i + 1 < words.count {
            return clean(words[i + 1])
        }
        // Exim: "OK id=1Mugho-0003Dg-Un".
        if let w = words.first(where: { ASCII.hasPrefix($0, lowercased: "id=") }) {
            return clean(w.dropFirst(3))
        }
        // Exchange: "[InternalId=1234567, Hostname=…] Queued mail for delivery".
        if let w = words.first(where: { $0.starts(with: "[InternalId=".utf8) || $0.starts(with: "InternalId=".utf8) }) {
            return clean(w.split(separator: UInt8(ascii: "="), omittingEmptySubsequences: false).last ?? [])
        }
        // qmail: "ok 1234567890 qp 12345".
        if let i = words.indices.first(where: { word($0, is: "qp") }), i + 1 < words.count { return clean(words[i + 1]) }
        // Sendmail: "x8M1l2Jb012345 Message accepted for delivery".
        if let i = words.indices.first(where: { word($0, is: "message") }), i + 2 < words.count, word(i + 1, is: "accepted"), i > 0 {
            let candidate = words[i - 1]
            if candidate.count >= 8, candidate.allSatisfy(isAlphanumeric) { return String(decoding: candidate, as: UTF8.self) }
        }
        // Gmail: "OK  1700000000 a1b2c3si12345pfb.123 - gsmtp".
        if let i = words.indices.first(where: { word($0, is: "gsmtp") }), i >= 2, words[i - 1].elementsEqual("-".utf8) {
            return String(decoding: words[i - 2], as: UTF8.self)
        }
        // "Queued (id)" / "queued <id>" forms.
        if let i = words.indices.first(where: { word($0, is: "queued") || word($0, is: "queued:") }), i + 1 < words.count,
            words[i + 1].count >= 6, words[i + 1].contains(where: ASCII.isDigit)
        {
            return clean(words[i + 1])
        }
        return nil
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        ASCII.isDigit(b) || (0x61...0x7a).contains(ASCII.lower(b))
    }

    private static func clean(_ word: ArraySlice<UInt8>) -> String? {
        var t = word
        while let f = t.first, "<([{\"'".utf8.contains(f) { t = t.dropFirst() }
        while let l = t.last, ">)]}\"',.;".utf8.contains(l) { t = t.dropLast() }
        return t.isEmpty ? nil : String(decoding: t, as: UTF8.self)
    }
}
