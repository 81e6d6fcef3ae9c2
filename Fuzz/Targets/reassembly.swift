// Fuzz target `reassembly`: TCPReassembler (flow table, ordering, retransmissions, held segments,
// gaps, FIN/RST, port reuse, idle expiry, table eviction) with small limits.
//
// Input format (see FUZZING.md): a sequence of 8-byte segment headers, each followed by its payload.
//   u8  route     bit 0: direction (0: from the flow's first speaker A, 1: from B)
//                 bits 1-2: which of 4 flows (2 and 3 use ports no serverPorts entry matches; 3 is IPv6)
//                 bits 3-7: capture time advances by that many * 0.5 s (idle timeout here is 6 s)
//   u8  flags     TCP flags (& 0x3f)
//   i16 BE        seq delta from the sender's cursor (its last seq + last payload length)
//   i16 BE        ack delta from the peer's cursor
//   u8  length    payload bytes that follow (cut short at the end of input)
//   u8  cut       wireLength = length + cut (bytes lost to the snapshot length)
// The checker takes the events after every call and checks invariants; at the end `finishAll`
// must close every connection.

final class FuzzDelegate {
    struct Track {
        var closed = false
        var delivered = 0
        var gapBytes = 0
        var flow: Int
    }
    var tracks: [ObjectIdentifier: Track] = [:]
    var connections: [Connection] = []
    /// Payload bytes fed per flow.
    var fed = [Int](repeating: 0, count: 4)
    var wireFed = [Int](repeating: 0, count: 4)
    var flowOf: (Connection) -> Int = { _ in 0 }
    var closedCount = 0
    var byHandle: [Int: Connection] = [:]

    /// Takes the events of the reassembler's last call; stops following a connection whose
    /// stream starts with 0xEE ("not SMTP").
    func take(_ r: TCPReassembler) {
        for e in r.events {
            switch e {
            case .opened(let c):
                byHandle[c.handle] = c
                opened(c)
            case .data(let h, let d, let bytes, let meta):
                guard let c = byHandle[h] else { return fuzzCheck(false, "data for an unknown handle") }
                if c.closeReason == .ignored { continue }
                if !data(c, d, bytes, meta) { r.ignore(h) }
            case .gap(let h, let d, let length, let time):
                guard let c = byHandle[h] else { return fuzzCheck(false, "gap for an unknown handle") }
                if c.closeReason == .ignored { continue }
                gap(c, d, length: length, at: time)
            case .closed(let c, let reason):
                closed(c, reason)
            }
        }
    }

    func opened(_ connection: Connection) {
        let id = ObjectIdentifier(connection)
        fuzzCheck(tracks[id] == nil, "opened twice")
        // A connection may have closed within the call that opened it (a RST at once): its events still come in order.
        tracks[id] = Track(flow: flowOf(connection))
        connections.append(connection)
    }

    func data(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer, _ meta: SegmentMeta) -> Bool {
        let id = ObjectIdentifier(connection)
        fuzzCheck(tracks[id] != nil, "data before opened")
        fuzzCheck(tracks[id]!.closed == false, "data after closed")
        // Whether it is closed by now is not the question: events come in order, and none follow its close.
        fuzzCheck(!bytes.isEmpty, "empty data delivered")
        tracks[id]!.delivered += bytes.count
        let flow = tracks[id]!.flow
        fuzzCheck(tracks[id]!.delivered <= fed[flow], "delivered \(tracks[id]!.delivered) bytes, only \(fed[flow]) fed")
        var sum: UInt8 = 0
        for b in bytes { sum &+= b }
        fuzzSink &+= Int(sum)
        // A connection whose stream starts with 0xEE is "not SMTP": stop following it.
        return bytes.first != 0xEE
    }

    func gap(_ connection: Connection, _ direction: Direction, length: Int, at time: Timestamp) {
        let id = ObjectIdentifier(connection)
        fuzzCheck(tracks[id] != nil, "gap before opened")
        fuzzCheck(tracks[id]!.closed == false, "gap after closed")
        fuzzCheck(length > 0, "gap of length \(length)")
        tracks[id]!.gapBytes += length
    }

    func closed(_ connection: Connection, _ reason: CloseReason) {
        let id = ObjectIdentifier(connection)
        fuzzCheck(tracks[id] != nil, "closed before opened")
        fuzzCheck(tracks[id]!.closed == false, "closed twice")
        fuzzCheck(connection.closeReason == reason, "closeReason differs from the reason reported")
        tracks[id]!.closed = true
        closedCount += 1
        let t = tracks[id]!
        let stats = connection.stats
        fuzzCheck(stats[0].bytes + stats[1].bytes == t.delivered, "stats.bytes \(stats[0].bytes + stats[1].bytes) != delivered \(t.delivered)")
        fuzzCheck(stats[0].gapBytes + stats[1].gapBytes == t.gapBytes, "stats.gapBytes != gaps reported")
        for d in 0..<2 {
            fuzzCheck(stats[d].gaps >= 0 && stats[d].gapBytes >= stats[d].gaps, "gap counters")
            fuzzCheck(stats[d].bytes >= 0, "negative byte counter")
        }
    }
}

private struct FuzzFlow {
    var a: Endpoint
    var b: Endpoint
}

private let fuzzFlows: [FuzzFlow] = [
    FuzzFlow(a: Endpoint(.v4(0x0a00_0001), 40_000), b: Endpoint(.v4(0x0a00_0002), 25)),
    FuzzFlow(a: Endpoint(.v4(0x0a00_0002), 587), b: Endpoint(.v4(0x0a00_0003), 40_001)),
    FuzzFlow(a: Endpoint(.v4(0x0a00_0001), 6_000), b: Endpoint(.v4(0x0a00_0004), 5_000)),
    FuzzFlow(a: Endpoint(.v6(0x2001_0db8_0000_0000, 1), 50_000), b: Endpoint(.v6(0x2001_0db8_0000_0000, 2), 50_000)),
]

private func fuzzSpeaksFirst(_ bytes: UnsafeRawBufferPointer) -> Bool? {
    guard bytes.count >= 4 else { return nil }
    if bytes[0] >= 0x30, bytes[0] <= 0x39, bytes[3] == 0x20 || bytes[3] == 0x2d { return true }
    if bytes[0] >= 0x41, bytes[0] <= 0x7a { return false }
    return nil
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let delegate = FuzzDelegate()
    delegate.flowOf = { c in
        fuzzFlows.firstIndex { ($0.a == c.client && $0.b == c.server) || ($0.b == c.client && $0.a == c.server) } ?? -1
    }
    var limits = ReassemblyLimits()
    limits.maxHeldBytesPerDirection = 600
    limits.maxConnections = 3
    limits.idleTimeout = 6
    limits.retransmissionHistory = 64
    limits.maxAckedHole = 4096
    let reassembler = TCPReassembler(limits: limits)
    reassembler.speaksFirst = fuzzSpeaksFirst
    let vantage = Vantage(file: 0)
    var time = Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
    // Per flow and side: next sequence number the fuzzer's sender "would" use.
    var cursor = [[UInt32]](repeating: [1_000, 0xffff_ff00], count: 4)
    var offset = 0
    while offset + 8 <= size {
        let route = input[offset], flagByte = input[offset + 1]
        let seqDelta = Int16(bitPattern: UInt16(input[offset + 2]) << 8 | UInt16(input[offset + 3]))
        let ackDelta = Int16(bitPattern: UInt16(input[offset + 4]) << 8 | UInt16(input[offset + 5]))
        let declared = Int(input[offset + 6]), cut = Int(input[offset + 7])
        offset += 8
        let length = min(declared, size - offset)
        let side = Int(route & 1), flow = Int(route >> 1 & 3)
        time = time.adding(seconds: Double(route >> 3) * 0.5)
        let f = fuzzFlows[flow]
        let seq = cursor[flow][side] &+ UInt32(bitPattern: Int32(seqDelta))
        let ack = cursor[flow][1 - side] &+ UInt32(bitPattern: Int32(ackDelta))
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 1)
        defer { payload.deallocate() }
        if length > 0 {
            payload.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[offset..<(offset + length)]))
        }
        offset += length
        let flags = TCPFlags(rawValue: flagByte & 0x3f)
        cursor[flow][side] = seq &+ UInt32(length) &+ (flags.contains(.syn) ? 1 : 0)
        delegate.fed[flow] += length
        delegate.wireFed[flow] += length + cut
        let seg = TCPSegment(
            source: side == 0 ? f.a : f.b, destination: side == 0 ? f.b : f.a,
            seq: seq, ack: ack, flags: flags, window: UInt16(truncatingIfNeeded: Int(seqDelta)),
            options: TCPOptions(), ip: IPInfo(version: flow == 3 ? 6 : 4, ttl: 64 &+ route, ipID: flow == 3 ? nil : UInt16(truncatingIfNeeded: offset), reassembled: false),
            payload: UnsafeRawBufferPointer(payload), wireLength: length + cut)
        reassembler.process(seg, time: time, vantage: vantage)
        delegate.take(reassembler)
        fuzzCheck(reassembler.openConnections <= limits.maxConnections, "more open connections than the limit")
    }
    reassembler.finishAll(at: time.adding(seconds: 1))
    delegate.take(reassembler)
    fuzzCheck(reassembler.openConnections == 0, "connections left open after finishAll")
    for c in delegate.connections {
        fuzzCheck(c.isClosed, "connection \(c.id) never closed")
        fuzzCheck(delegate.tracks[ObjectIdentifier(c)]!.closed || c.closeReason == .ignored, "connection \(c.id) closed without an event")
        fuzzCheck(delegate.tracks[ObjectIdentifier(c)]!.flow >= 0, "connection with unknown endpoints")
    }
    fuzzCheck(delegate.closedCount == delegate.connections.filter { $0.closeReason != .ignored }.count, "closed events != opened connections not ignored")
    fuzzCheck(reassembler.connectionsSeen == delegate.connections.count, "connectionsSeen != opened")
    return 0
}

nonisolated(unsafe) var fuzzSink = 0

@inline(never)
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition { fatalError("fuzz invariant violated: \(message())", file: file, line: line) }
}
