// Fuzz target `smtp`: SessionBuilder driving SMTPDecoder (commands, replies, pipelining, DATA,
// BDAT, AUTH, STARTTLS, headers, gaps) with small limits, so every limit is crossed often.
//
// Input format (see FUZZING.md):
//   byte 0   options: bit 0 implicitTLS, bit 1 redactCredentials off, bit 2 extra header "x-mailer"
//   then chunks, each: u8 selector, u8 length, then (for data) length bytes (cut short at the end)
//     selector & 3: 0 client bytes, 1 server bytes, 2 client gap, 3 server gap
//                   (a gap has no bytes: its length is length * 7 + 1)
//     selector >> 2: capture time advances by that many milliseconds * 10
// Then `close(reason:at:)` with a reason picked from the last byte.

private let fuzzCloseReasons: [CloseReason] = [.fin, .rst, .idle, .captureEnd, .portReuse, .tableFull, .ignored]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    var options = SMTPDecoder.Options()
    options.lineLimit = 256
    options.waitLimit = 512
    options.maxPending = 16
    options.headerLimit = 512
    options.maxAuthRounds = 4
    options.implicitTLS = input[0] & 1 != 0
    options.redactCredentials = input[0] & 2 == 0
    if input[0] & 4 != 0 { options.extraHeaders = ["x-mailer"] }
    var limits = SessionBuilder.Limits()
    limits.maxTimelineEntries = 64
    limits.maxRecipients = 8
    var time = Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
    let session = Session(
        id: 1, client: Endpoint(.v4(0x0a00_0001), 40_000), server: Endpoint(.v4(0x0a00_0002), 25),
        vantage: Vantage(file: 0), start: time, end: time)
    let builder = SessionBuilder(session: session, decoderOptions: options, limits: limits)
    var fed = [0, 0], gapBytes = [0, 0], gaps = [0, 0]
    var finished: [Transaction] = []
    var offset = 1
    while offset + 2 <= size {
        let selector = input[offset], declared = Int(input[offset + 1])
        offset += 2
        time = time.adding(seconds: Double(selector >> 2) * 0.01)
        let d = Int(selector & 1)
        let direction: Direction = d == 0 ? .toServer : .toClient
        if selector & 2 == 0 {
            let length = min(declared, size - offset)
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 1)
            defer { chunk.deallocate() }
            if length > 0 {
                chunk.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[offset..<(offset + length)]))
            }
            offset += length
            fed[d] += length
            builder.receive(direction, UnsafeRawBufferPointer(chunk), at: time, ttl: selector, ipID: UInt16(offset & 0xffff))
        } else {
            let length = declared * 7 + 1
            gapBytes[d] += length
            gaps[d] += 1
            builder.gap(direction, length: length, at: time)
        }
        finished += builder.takeFinished()
        fuzzCheck(builder.session.timeline.count <= limits.maxTimelineEntries, "timeline above its limit")
    }
    let reason = fuzzCloseReasons[Int(input[size - 1]) % fuzzCloseReasons.count]
    let s = builder.close(reason: reason, at: time.adding(seconds: 1))
    finished += builder.takeFinished()
    fuzzCheck(builder.takeFinished().isEmpty, "takeFinished not emptied")

    fuzzCheck(s.bytes == fed, "session bytes \(s.bytes) != fed \(fed)")
    fuzzCheck(s.gapBytes == gapBytes, "session gap bytes \(s.gapBytes) != fed \(gapBytes)")
    fuzzCheck(s.gaps == gaps, "session gaps \(s.gaps) != fed \(gaps)")
    fuzzCheck(s.timeline.count <= limits.maxTimelineEntries, "timeline above its limit")
    fuzzCheck(s.end >= s.start, "session ends before it starts")
    fuzzCheck(finished.count == s.transactions, "\(finished.count) transactions finished, \(s.transactions) begun")
    var seen = Set<Int>()
    for t in finished {
        fuzzCheck(seen.insert(t.index).inserted, "transaction \(t.index) finished twice")
        fuzzCheck(t.index >= 1 && t.index <= s.transactions, "transaction index out of range")
        fuzzCheck(t.end >= t.start, "transaction ends before it starts")
        fuzzCheck(t.rcptTo.count + t.rcptRejected.count <= limits.maxRecipients, "recipients above the limit")
    }
    // Render what a report would render.
    for e in s.timeline { fuzzSink &+= e.line.count }
    for a in s.anomalies { fuzzSink &+= a.name.rawValue.utf8.count + a.detail.utf8.count }
    return 0
}

nonisolated(unsafe) var fuzzSink = 0

@inline(never)
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition { fatalError("fuzz invariant violated: \(message())", file: file, line: line) }
}
