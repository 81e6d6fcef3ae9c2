/// Exim's main log messages (after the time, and `exim[pid]: ` when it logs through syslog).
enum EximMessage {
    static func parse(_ m: Substring) -> (queueID: String?, event: LogEvent) {
        let words = m.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        if let first = words.first, Fields.eximID(first) {
            let id = String(first)
            let flag = words.count > 1 ? words[1] : ""
            let rest = words.count > 2 ? words[2] : ""
            switch flag {
            case "<=":
                let from = rest.prefix { $0 != " " }
                return (id, .arrival(from: from == "<>" ? "" : String(from), size: field("S", rest).flatMap { Int($0) },
                                     client: host(rest), messageID: field("id", rest).map { "<" + $0 + ">" }))
            case "=>", "->", "*>":
                return (id, .delivery(to: recipient(rest), status: .sent, dsn: nil, relay: field("H", rest).map(String.init), detail: field("C", rest).map(String.init)))
            case "**":
                return (id, .delivery(to: recipient(rest), status: .bounced, dsn: nil, relay: nil, detail: afterColon(rest)))
            case "==":
                return (id, .delivery(to: recipient(rest), status: .deferred, dsn: nil, relay: nil, detail: afterColon(rest)))
            case "Completed": return (id, .removed)
            default:
                if let e = rejection(m.dropFirst(first.count + 1)) { return (id, e) }
                return (id, .other)
            }
        }
        if m.hasPrefix("SMTP connection from ") {
            let rest = m.dropFirst(21)
            let client = host(rest)
            if rest.firstRange(of: " closed by QUIT") != nil { return (nil, .disconnect(client ?? LogClient(), counts: [])) }
            if rest.firstRange(of: " lost") != nil || rest.firstRange(of: "D=") != nil { return (nil, .lostConnection(client, after: "")) }
            if let client { return (nil, .connect(client)) }
            return (nil, .other)
        }
        if m.hasPrefix("unexpected disconnection while reading SMTP command from ") {
            return (nil, .lostConnection(host(m.dropFirst(58)), after: "command"))
        }
        if m.hasPrefix("no MAIL in SMTP connection from ") || m.hasPrefix("no host name found for IP address") {
            return (nil, .other)
        }
        if let e = rejection(m) { return (nil, e) }
        return (nil, .other)
    }

    /// `H=(helo) [ip]:port F=<from> rejected RCPT <to>: reason`, `… rejected after DATA: reason`.
    static func rejection(_ m: Substring) -> LogEvent? {
        guard let r = m.firstRange(of: " rejected ") else { return nil }
        let rest = m[r.upperBound...]
        let stage: String
        var to: String?
        if rest.hasPrefix("RCPT ") {
            stage = "RCPT"
            to = Fields.path(rest.dropFirst(5).prefix { $0 != ":" && $0 != " " })
        } else if rest.hasPrefix("after DATA") {
            stage = "END-OF-MESSAGE"
        } else if rest.hasPrefix("MAIL ") {
            stage = "MAIL"
        } else if rest.hasPrefix("EHLO") || rest.hasPrefix("HELO") {
            stage = "HELO"
        } else if rest.hasPrefix("connection") {
            stage = "CONNECT"
        } else {
            stage = String(rest.prefix { $0 != " " && $0 != ":" })
        }
        let text = afterColon(rest) ?? String(rest)
        return .reject(stage: stage, code: Fields.code(text[...]), text: text, client: host(m), from: field("F", m).map(Fields.path), to: to)
    }

    /// The client of `H=name (helo) [ip]:port`, or `[ip]:port` anywhere, or `name [ip]`.
    static func host(_ text: Substring) -> LogClient? {
        guard let open = text.firstIndex(of: "[") else { return nil }
        var c = Fields.bracketClient(text[open...].prefix { $0 != " " })
        if let h = text.firstRange(of: "H=") {
            let name = text[h.upperBound...].prefix { $0 != " " && $0 != "[" }
            if !name.isEmpty && !name.hasPrefix("(") { c?.name = String(name) }
        }
        return c
    }

    /// `S=511` style field (space-delimited).
    static func field(_ key: String, _ text: Substring) -> Substring? {
        for w in text.split(separator: " ") where w.hasPrefix(key + "=") {
            return w.dropFirst(key.count + 1)
        }
        return nil
    }

    /// The recipient of a delivery line: `bob@example.org`, or `:blackhole: <bob@example.org>` for
    /// a redirect to nowhere (the address then follows in angle brackets).
    static func recipient(_ text: Substring) -> String {
        let words = text.split(separator: " ", maxSplits: 2)
        if let first = words.first, first.hasPrefix(":"), words.count > 1, words[1].hasPrefix("<") { return Fields.path(words[1]) }
        return Fields.path(text.prefix { $0 != " " })
    }

    static func afterColon(_ text: Substring) -> String? {
        text.firstRange(of: ": ").map { String(text[$0.upperBound...]) }
    }
}
