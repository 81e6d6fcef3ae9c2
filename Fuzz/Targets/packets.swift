// Fuzz target `packets`: PacketDecoder (link layers, VLAN, IPv4/IPv6, extension headers, IP
// fragment reassembly, TCP options).
//
// Input format (see FUZZING.md):
//   byte 0            link type: value % 6 -> Ethernet, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW
//   then frames, each: u16 BE caplen, u8 control, caplen bytes (cut short at the end of input)
//     control low nibble  n: wireLength = caplen when n == 0, else caplen + n * 97 (snaplen cut)
//     control high nibble t: capture time advances by t * 4 s (fragment timeout is 30 s)
// One decoder is kept for the whole input, so fragments of earlier frames meet later ones.

private let fuzzLinkTypes: [LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .null, .loop, .raw]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    var limits = FragmentReassembler.Limits()
    limits.maxDatagrams = 8  // small, so eviction of the oldest datagram is exercised
    var decoder = PacketDecoder(linkType: fuzzLinkTypes[Int(input[0]) % fuzzLinkTypes.count], fragmentLimits: limits)
    var time = Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
    var offset = 1
    var frames = 0
    var tcp = 0
    while offset + 3 <= size {
        let declared = Int(input[offset]) << 8 | Int(input[offset + 1])
        let control = input[offset + 2]
        offset += 3
        let caplen = min(declared, size - offset)
        let extra = Int(control & 0x0f) * 97
        time = time.adding(seconds: Double(control >> 4) * 4)
        // Each frame in its own exactly-sized allocation, so ASan sees any read past its end.
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: caplen, alignment: 1)
        defer { frame.deallocate() }
        if caplen > 0 { frame.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[offset..<(offset + caplen)])) }
        offset += caplen
        frames += 1
        let bytes = UnsafeRawBufferPointer(frame)
        let before = decoder.stats
        let outcome = decoder.decode(bytes, wireLength: caplen + extra, time: time) { seg in
            tcp += 1
            fuzzCheck(seg.wireLength >= 0, "negative TCP wire length")
            fuzzCheck(seg.payload.count <= 65_535, "payload larger than an IP datagram")
            if !seg.ip.reassembled {
                // Outside reassembly the payload must lie inside this frame.
                if let base = seg.payload.baseAddress, seg.payload.count > 0 {
                    fuzzCheck(base >= bytes.baseAddress! && base + seg.payload.count <= bytes.baseAddress! + bytes.count,
                              "payload outside the frame")
                }
            }
            // Touch every payload byte (ASan checks the reads).
            var sum: UInt8 = 0
            for b in seg.payload { sum &+= b }
            fuzzSink &+= Int(sum)
            _ = seg.source.description
            _ = seg.destination.description
        }
        let after = decoder.stats
        fuzzCheck(after.packets == before.packets + 1, "packet not counted")
        switch outcome {
        case .tcp: fuzzCheck(after.tcp == before.tcp + 1, "tcp outcome not counted")
        case .malformed(let reason): fuzzCheck(!reason.isEmpty, "malformed without a reason")
        case .fragmentHeld, .notIP, .notTCP: break
        }
        fuzzCheck(decoder.fragments.incompleteCount <= limits.maxDatagrams, "fragment table above its limit")
    }
    let s = decoder.stats
    fuzzCheck(s.packets == frames, "packet count")
    fuzzCheck(s.tcp <= s.packets && s.tcp == tcp, "tcp count")
    fuzzCheck(s.tcp + s.notIP + s.notTCP + s.malformed <= s.packets, "outcome counts exceed packets")
    fuzzCheck(s.reassembledDatagrams <= s.fragments, "more datagrams than fragments")
    return 0
}

nonisolated(unsafe) var fuzzSink = 0

@inline(never)
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #file, line: UInt = #line) {
    if !condition { fatalError("fuzz invariant violated: \(message())", file: file, line: line) }
}
