import Vocabulary

/// Microsoft Exchange's SMTP receive protocol log: CSV, its columns named by a `#Fields:` line
/// (`date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context`);
/// one row per connection event, command (`<`), reply (`>`) and note (`*`).
struct ExchangeReader {
    /// Column positions from the last `#Fields:` line.
    private var columns: [String: Int] = [:]
    var hasFields: Bool { !columns.isEmpty }

    /// A `#…` header line: true when it was one (kept out of the count of lines not read).
    mutating func header(_ line: Substring) -> Bool {
        guard line.first == "#" else { return false }
        if line.hasPrefix("#Fields:") {
            let names = Self.split(line.dropFirst(8).drop { $0 == " " })
            columns = Dictionary(names.enumerated().map { ($0.element[...].trimmingSuffix(" ").lowercased(), $0.offset) }, uniquingKeysWith: { a, _ in a })
        }
        return true
    }

    /// One data row: time, session id, event.
    func row(_ line: Substring) -> (time: Timestamp, whole: Bool, session: String, connector: String?, event: LogEvent, summary: String)? {
        let cells = Self.split(line)
        func cell(_ name: String) -> String? {
            guard let i = columns[name], i < cells.count else { return nil }
            return cells[i]
        }
        guard let stamp = cell("date-time"), let (t, _, _) = HeaderParser.isoTime((stamp + " ")[...]), let session = cell("session-id"), !session.isEmpty,
            let kind = cell("event") else { return nil }
        let remote = cell("remote-endpoint").flatMap { Self.endpoint($0[...]) }
        let data = cell("data") ?? ""
        let event: LogEvent
        switch kind {
        case "+": event = remote.map { .connect($0) } ?? .other
        case "-": event = .disconnect(remote ?? LogClient(), counts: [])
        case "<": event = .command(remote, data)
        case ">": event = .reply(remote, data)
        default: event = .other
        }
        let context = cell("context") ?? ""
        let summary = [kind, data, context].filter { !$0.isEmpty }.joined(separator: " ")
        return (t.time, t.whole, session, cell("connector-id"), event, summary)
    }

    /// `192.0.2.10:38088`, `[2001:db8::10]:38088`.
    static func endpoint(_ text: Substring) -> LogClient? {
        if text.first == "[" { return Fields.bracketClient(text) }
        guard let colon = text.lastIndex(of: ":"), let address = Fields.address(text[..<colon]) else { return Fields.address(text).map { LogClient(address: $0) } }
        return LogClient(address: address, port: UInt16(text[text.index(after: colon)...]))
    }

    /// CSV cells: commas outside double quotes; `""` inside quotes is one quote.
    static func split(_ line: Substring) -> [String] {
        var cells: [String] = []
        var cell = ""
        var quoted = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: i)
                    if next < line.endIndex, line[next] == "\"" {
                        cell.append("\"")
                        i = next
                    } else {
                        quoted = false
                    }
                } else {
                    cell.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                cells.append(cell)
                cell = ""
            } else {
                cell.append(c)
            }
            i = line.index(after: i)
        }
        cells.append(cell)
        return cells
    }
}
