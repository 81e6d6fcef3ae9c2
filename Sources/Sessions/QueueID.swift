/// Pulls the queue identifier out of the reply that accepted a message. Each MTA words it
/// differently; the patterns below are the documented or observed forms.
public enum QueueID {
    public static func extract(_ text: String) -> String? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let lower = words.map { $0.lowercased() }
        // Postfix: "Ok: queued as 4F3B2A17"; many others: "queued as <id>".
        if let i = lower.indices.first(where: { lower[$0] == "as" && $0 > 0 && lower[$0 - 1] == "queued" }), i + 1 < words.count {
            return clean(words[i + 1])
        }
        // Exim: "OK id=1Mugho-0003Dg-Un".
        if let w = words.first(where: { $0.lowercased().hasPrefix("id=") }) {
            return clean(String(w.dropFirst(3)))
        }
        // Exchange: "[InternalId=1234567, Hostname=…] Queued mail for delivery".
        if let w = words.first(where: { $0.hasPrefix("[InternalId=") || $0.hasPrefix("InternalId=") }) {
            return clean(String(w.split(separator: "=").last ?? ""))
        }
        // qmail: "ok 1234567890 qp 12345".
        if let i = lower.firstIndex(of: "qp"), i + 1 < words.count { return clean(words[i + 1]) }
        // Sendmail: "x8M1l2Jb012345 Message accepted for delivery".
        if let i = lower.firstIndex(of: "message"), i + 2 < lower.count, lower[i + 1] == "accepted", i > 0 {
            let candidate = words[i - 1]
            if candidate.count >= 8, candidate.allSatisfy({ $0.isLetter || $0.isNumber }) { return candidate }
        }
        // Gmail: "OK  1700000000 a1b2c3si12345pfb.123 - gsmtp".
        if let i = lower.firstIndex(of: "gsmtp"), i >= 2, words[i - 1] == "-" { return words[i - 2] }
        // "Queued (id)" / "queued <id>" forms.
        if let i = lower.firstIndex(where: { $0 == "queued" || $0 == "queued:" }), i + 1 < words.count,
            words[i + 1].count >= 6, words[i + 1].contains(where: { $0.isNumber })
        {
            return clean(words[i + 1])
        }
        return nil
    }

    private static func clean(_ s: String) -> String? {
        var t = Substring(s)
        while let f = t.first, "<([{\"'".contains(f) { t = t.dropFirst() }
        while let l = t.last, ">)]}\"',.;".contains(l) { t = t.dropLast() }
        return t.isEmpty ? nil : String(t)
    }
}
