/// Sendmail's log messages (after `sendmail[pid]: ` or `sm-mta[pid]: `).
enum SendmailMessage {
    static func parse(_ m: Substring) -> (queueID: String?, event: LogEvent) {
        var id: String?
        var rest = m
        if let colon = m.firstIndex(of: ":"), m[m.index(after: colon)...].first == " " {
            let word = m[..<colon]
            if word == "NOQUEUE" || Fields.queueID(word, min: 8) {
                id = word == "NOQUEUE" ? nil : String(word)
                rest = m[m.index(after: colon)...].dropFirst()
            }
        }
        if rest.hasPrefix("from="), let from = Fields.value("from", in: rest) {
            return (id, .arrival(from: Fields.path(from), size: Fields.value("size", in: rest).flatMap { Int($0) },
                                 client: Fields.value("relay", in: rest).flatMap(client), messageID: Fields.value("msgid", in: rest).map(String.init)))
        }
        if rest.hasPrefix("to="), let to = Fields.value("to", in: rest), let stat = Fields.value("stat", in: rest) {
            let dsn = Fields.value("dsn", in: rest).map(String.init)
            let status: DeliveryStatus
            switch dsn?.first {
            case "2": status = .sent
            case "4": status = .deferred
            case "5": status = .bounced
            default: status = stat.hasPrefix("Sent") ? .sent : stat.hasPrefix("Deferred") ? .deferred : .other
            }
            // Several recipients in one line: "to=<a>,<b>".
            return (id, .delivery(to: Fields.path(to), status: status, dsn: dsn, relay: Fields.value("relay", in: rest).map(String.init), detail: String(stat)))
        }
        if rest.hasPrefix("ruleset="), let reject = Fields.value("reject", in: rest) {
            let ruleset = Fields.value("ruleset", in: rest) ?? ""
            let stage = ruleset == "check_rcpt" ? "RCPT" : ruleset == "check_mail" ? "MAIL" : ruleset == "check_relay" ? "CONNECT" : String(ruleset)
            let to = stage == "RCPT" ? Fields.value("arg1", in: rest).map(Fields.path) : nil
            return (id, .reject(stage: stage, code: Fields.code(reject), text: String(reject), client: Fields.value("relay", in: rest).flatMap(client), from: nil, to: to))
        }
        if rest.hasPrefix("Milter"), let reject = Fields.value("reject", in: rest) {
            return (id, .reject(stage: "END-OF-MESSAGE", code: Fields.code(reject), text: String(reject), client: nil, from: nil, to: nil))
        }
        if rest.hasPrefix("lost input channel from ") {
            let after = rest.firstRange(of: " after ").map { String(rest[$0.upperBound...]) } ?? ""
            return (id, .lostConnection(client(rest.dropFirst(24)), after: after))
        }
        if rest.hasPrefix("connect from "), let c = client(rest.dropFirst(13)) { return (id, .connect(c)) }
        if rest.firstRange(of: " did not issue ") != nil, let c = client(rest) { return (id, .disconnect(c, counts: [])) }
        return (id, .other)
    }

    /// `name [192.0.2.10]`, `[192.0.2.10]`, `name [IPv6:2001:db8::10] (may be forged)`.
    static func client(_ text: Substring) -> LogClient? {
        guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]"),
            let address = Fields.address(text[text.index(after: open)..<close]) else { return nil }
        let name = text[..<open].trimmingSuffix(" ")
        return LogClient(name: name.isEmpty ? nil : String(name), address: address, port: nil)
    }
}

extension Substring {
    func trimmingSuffix(_ c: Character) -> Substring {
        var s = self
        while s.last == c { s = s.dropLast() }
        return s
    }
}
