/// Postfix's log messages (after `postfix/smtpd[pid]: `), as Postfix 2.x-3.x writes them.
enum PostfixMessage {
    static func parse(_ m: Substring, program: String) -> (queueID: String?, event: LogEvent) {
        if m.hasPrefix("connect from "), let c = Fields.bracketClient(m.dropFirst(13)) { return (nil, .connect(c)) }
        if m.hasPrefix("disconnect from ") {
            let rest = m.dropFirst(16)
            let words = rest.split(separator: " ")
            guard let first = words.first, let c = Fields.bracketClient(first) else { return (nil, .other) }
            var counts: [CommandCount] = []
            for w in words.dropFirst() {
                guard let eq = w.firstIndex(of: "=") else { continue }
                let name = w[..<eq].lowercased()
                let value = w[w.index(after: eq)...]
                if let slash = value.firstIndex(of: "/") {
                    if let a = Int(value[..<slash]), let t = Int(value[value.index(after: slash)...]), a >= 0, t >= 0 {
                        counts.append(CommandCount(name: name, accepted: a, total: t))
                    }
                } else if let n = Int(value), n >= 0 {
                    counts.append(CommandCount(name: name, accepted: n, total: n))
                }
            }
            return (nil, .disconnect(c, counts: counts))
        }
        for prefix in ["lost connection after ", "timeout after "] where m.hasPrefix(prefix) {
            let rest = m.dropFirst(prefix.count)
            let after = rest.prefix { $0 != " " }
            let client = rest.firstRange(of: " from ").flatMap { Fields.bracketClient(rest[$0.upperBound...]) }
            return (nil, .lostConnection(client, after: String(after)))
        }
        // smtpd -v: "< unknown[192.0.2.10]:33083: RSET", "> unknown[192.0.2.10]:33083: 250 2.0.0 Ok".
        if m.hasPrefix("< ") || m.hasPrefix("> ") {
            let rest = m.dropFirst(2)
            if let sep = rest.firstRange(of: ": "), let c = Fields.bracketClient(rest[..<sep.lowerBound]) {
                let text = String(rest[sep.upperBound...])
                return (nil, m.first == "<" ? .command(c, text) : .reply(c, text))
            }
            return (nil, .debug)
        }
        if m.hasPrefix("NOQUEUE: ") { return (nil, reject(m.dropFirst(9)) ?? .other) }
        // "4F3B2A17: …"
        if let colon = m.firstIndex(of: ":"), Fields.postfixQueueID(m[..<colon]), m[m.index(after: colon)...].first == " " {
            let id = String(m[..<colon])
            let rest = m[m.index(after: colon)...].dropFirst()
            if rest.hasPrefix("client="), let c = Fields.bracketClient(rest.dropFirst(7).prefix { $0 != "," }) { return (id, .client(c)) }
            if rest.hasPrefix("message-id=") {
                let v = rest.dropFirst(11)
                return (id, v.isEmpty ? .other : .messageID(String(v)))
            }
            if rest.hasPrefix("from="), let from = Fields.value("from", in: rest) {
                return (id, .arrival(from: Fields.path(from), size: Fields.value("size", in: rest).flatMap { Int($0) }, client: nil, messageID: nil))
            }
            if rest.hasPrefix("to="), let to = Fields.value("to", in: rest), let status = Fields.value("status", in: rest) {
                let word = status.prefix { $0 != " " }
                let detail = status.firstIndex(of: "(").map { String(status[$0...].dropFirst().dropLast(status.last == ")" ? 1 : 0)) }
                return (id, .delivery(to: Fields.path(to), status: DeliveryStatus(rawValue: String(word)) ?? .other,
                                      dsn: Fields.value("dsn", in: rest).map(String.init), relay: Fields.value("relay", in: rest).map(String.init), detail: detail))
            }
            if rest == "removed" { return (id, .removed) }
            if rest.hasPrefix("reject: ") || rest.hasPrefix("milter-reject: ") {
                return (id, reject(rest) ?? .other)
            }
            return (id, .other)
        }
        if program.hasSuffix("smtpd") || program.hasSuffix("postscreen") {
            return (nil, plainPrefixes.contains { m.hasPrefix($0) } ? .other : .debug)
        }
        if program.hasSuffix("cleanup"), isDebug(m) { return (nil, .debug) }
        return (nil, .other)
    }

    /// `reject: RCPT from name[ip]:port: 550 5.1.1 <x>: Recipient address rejected: …; from=<a> to=<b> proto=ESMTP helo=<h>`
    /// and cleanup's `reject: header Subject: … from name[ip]:port; from=<a> to=<b> proto=ESMTP helo=<h>: 5.7.1 text`.
    static func reject(_ text: Substring) -> LogEvent? {
        var m = text
        if m.hasPrefix("milter-reject: ") { m = m.dropFirst(15) } else if m.hasPrefix("reject: ") { m = m.dropFirst(8) } else { return nil }
        let stage = String(m.prefix { $0 != " " })
        var client: LogClient?
        // The client is named after the last " from " before the envelope (a header's text may hold one too).
        let head = m.firstRange(of: "; from=").map { m[..<$0.lowerBound] } ?? m
        if let from = head.lastRange(of: " from ") {
            let after = m[from.upperBound...]
            client = Fields.bracketClient(after.prefix { $0 != " " && $0 != ";" })
        }
        var to: String?
        var from: String?
        if let r = m.firstRange(of: "; from=<") {
            from = Fields.path(m[r.upperBound...].prefix { $0 != ">" })
            if let t = m[r.upperBound...].firstRange(of: " to=<") { to = Fields.path(m[t.upperBound...].prefix { $0 != ">" }) }
        }
        // The reply: after "…]:port: " for smtpd; the last ": " for cleanup's header checks.
        var reply = Substring("")
        if let c = client, let close = m.firstRange(of: "]" + (c.port.map { ":\($0)" } ?? "") + ": ") {
            reply = m[close.upperBound...]
            if let semi = reply.firstRange(of: "; from=") { reply = reply[..<semi.lowerBound] }
        } else if let last = m.lastRange(of: ": ") {
            reply = m[last.upperBound...]
        }
        return .reject(stage: stage, code: Fields.code(reply), text: String(reply), client: client, from: from, to: to)
    }

    /// What smtpd writes at its normal log level besides the lines read above; any other line of
    /// smtpd is the tracing of `smtpd -v` or `debug_peer_list` (attribute exchanges, table lookups).
    static let plainPrefixes = ["warning:", "error:", "fatal:", "panic:", "statistics:", "Anonymous TLS", "Trusted TLS",
                                "Untrusted TLS", "Verified TLS", "setting up TLS", "SSL_accept", "TLS ", "improper command pipelining",
                                "too many errors", "discard:", "hold:", "filter:", "redirect:", "info:", "proxy-reject:", "proxy-accept:",
                                "PASS ", "CONNECT ", "DNSBL", "HANGUP", "NOQUEUE", "COMMAND ", "DISCONNECT", "PREGREET", "WHITELISTED", "BLACKLISTED"]

    /// Internal tracing of a verbose process: `function_name: …`.
    static func isDebug(_ m: Substring) -> Bool {
        guard let colon = m.firstIndex(of: ":") else { return false }
        let word = m[..<colon]
        guard !word.isEmpty, word.allSatisfy({ $0 == "_" || $0.isASCIIDigit || ($0.isASCII && $0.isLowercase) }) else { return false }
        return !["warning", "error", "fatal", "panic", "info", "statistics"].contains(String(word))
    }
}
