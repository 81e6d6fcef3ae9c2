// Fuzz target `serverlog`: ServerLog.parse (syslog, RFC 5424, ISO and Exim times; Postfix, Exim,
// Sendmail and Exchange messages; grouping into connections and messages) and resolveYears.
//
// Input format (see FUZZING.md): the bytes are the text of up to two log files, split at the first
// 0x00 byte (the second file starts after it); bytes 0-7 of the input also give the reference time
// for the year (seconds since 1970 modulo 400 years).
// Invariants: every line is read, skipped or counted as another program's; every session's lines
// and queue ids point into the log; start <= end.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let files: [[UInt8]]
    if let zero = input.firstIndex(of: 0) {
        files = [Array(input[..<zero]), Array(input[(zero + 1)...])]
    } else {
        files = [input]
    }
    var log = ServerLog.parse(files: files)
    var seed: UInt64 = 0
    for b in input.prefix(8) { seed = seed << 8 | UInt64(b) }
    log.resolveYears(near: Timestamp(seconds: Int64(seed % 12_622_780_800), nanoseconds: 0))
    let lines = files.reduce(0) { $0 + $1.split(separator: 0x0a, omittingEmptySubsequences: false).count }
    precondition(log.lines.count + log.skipped + log.otherPrograms <= lines)
    for s in log.sessions {
        precondition(s.start <= s.end)
        for l in s.lines { precondition(log.lines.indices.contains(l)) }
        for q in s.queueIDs { precondition(log.messages[q] != nil) }
    }
    for (_, m) in log.messages {
        for l in m.lines { precondition(log.lines.indices.contains(l)) }
        if let s = m.session { precondition(log.sessions.indices.contains(s)) }
    }
    return 0
}
