import Vocabulary

/// Parses one client command line (without its line ending) — RFC 5321 §4.1.1 and §4.1.2,
/// tolerant the way real servers are: `MAIL FROM:addr` without brackets, spaces around the colon,
/// lower-case verbs, ESMTP parameters in any case.
enum CommandParser {
    static func parse(_ line: UnsafeRawBufferPointer, index: Int, time: Timestamp, group: Int) -> Command {
        var i = 0
        while i < line.count, ASCII.isSpace(line[i]) { i += 1 }
        let verbStart = i
        while i < line.count, !ASCII.isSpace(line[i]) { i += 1 }
        let verbBytes = Array(line[verbStart..<i])
        // `MAIL FROM:` may be sent as `MAIL FROM:` or, by broken clients, `MAILFROM:`; the verb is the first four letters then.
        var verb = Verb(verbBytes)
        var argStart = i
        if case .other = verb, verbBytes.count > 4 {
            let head = Verb(Array(verbBytes[0..<4]))
            if head == .mail || head == .rcpt { verb = head; argStart = verbStart + 4 }
        }
        while argStart < line.count, ASCII.isSpace(line[argStart]) { argStart += 1 }
        let arg = UnsafeRawBufferPointer(rebasing: line[argStart...])
        var cmd = Command(index: index, time: time, verb: verb, line: Array(line), group: group)
        switch verb {
        case .mail: parsePath(arg, keyword: "from", into: &cmd)
        case .rcpt: parsePath(arg, keyword: "to", into: &cmd)
        case .helo, .ehlo, .vrfy, .expn, .etrn, .help:
            let s = trimmed(arg)
            cmd.argument = s.isEmpty ? (verb == .helo || verb == .ehlo ? "" : nil) : s
        case .bdat:
            let words = arg.split(whereSeparator: ASCII.isSpace)
            if let first = words.first, first.count <= 18, first.allSatisfy(ASCII.isDigit),
                let n = Int(String(decoding: first, as: UTF8.self))
            {
                cmd.chunkSize = n
                if words.count == 2, ASCII.hasPrefix(words[1], lowercased: "last"), words[1].count == 4 {
                    cmd.last = true
                } else if words.count != 1 {
                    // `BDAT 1234 SCRAMBLE`: no chunk can be delimited from a malformed command.
                    cmd.malformed = true
                    cmd.chunkSize = nil
                }
            } else {
                cmd.malformed = true
            }
        case .auth:
            let words = arg.split(whereSeparator: ASCII.isSpace)
            if let mech = words.first {
                cmd.argument = String(decoding: mech, as: UTF8.self).uppercased()
            } else {
                cmd.malformed = true
            }
        default:
            break
        }
        return cmd
    }

    /// `FROM:<path> params` / `TO:<path> params`.
    private static func parsePath(_ arg: UnsafeRawBufferPointer, keyword: StaticString, into cmd: inout Command) {
        guard ASCII.hasPrefix(arg, lowercased: keyword) else {
            cmd.malformed = true
            return
        }
        var i = keyword.utf8CodeUnitCount
        while i < arg.count, ASCII.isSpace(arg[i]) { i += 1 }
        guard i < arg.count, arg[i] == UInt8(ascii: ":") else {
            cmd.malformed = true
            return
        }
        i += 1
        while i < arg.count, ASCII.isSpace(arg[i]) { i += 1 }
        var path: [UInt8]
        if i < arg.count, arg[i] == UInt8(ascii: "<") {
            // Up to the closing bracket, skipping over a quoted local part.
            i += 1
            let start = i
            var quoted = false
            while i < arg.count {
                let c = arg[i]
                if c == UInt8(ascii: "\"") { quoted.toggle() }
                if c == UInt8(ascii: ">"), !quoted { break }
                i += 1
            }
            path = Array(arg[start..<i])
            if i < arg.count { i += 1 } else { cmd.malformed = true }
        } else {
            let start = i
            while i < arg.count, !ASCII.isSpace(arg[i]) { i += 1 }
            path = Array(arg[start..<i])
        }
        // A source route (`@a,@b:user@c`, RFC 5321 §4.1.2) is obsolete; keep the mailbox.
        if path.first == UInt8(ascii: "@"), let colon = path.firstIndex(of: UInt8(ascii: ":")) {
            path = Array(path[(colon + 1)...])
        }
        cmd.address = String(decoding: path, as: UTF8.self)
        let rest = UnsafeRawBufferPointer(rebasing: arg[min(i, arg.count)...])
        // Keywords are ASCII (RFC 5321 §4.1.2 esmtp-keyword): upper-cased byte by byte.
        func upperCased(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
            String(decoding: bytes.lazy.map(ASCII.upper), as: UTF8.self)
        }
        for word in rest.split(whereSeparator: ASCII.isSpace) {
            if let eq = word.firstIndex(of: UInt8(ascii: "=")) {
                cmd.parameters.append((upperCased(word[..<eq]), String(decoding: word[(eq + 1)...], as: UTF8.self)))
            } else {
                cmd.parameters.append((upperCased(word), nil))
            }
        }
    }

    private static func trimmed(_ b: UnsafeRawBufferPointer) -> String {
        var s = b[...]
        while let l = s.last, ASCII.isSpace(l) { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }
}
