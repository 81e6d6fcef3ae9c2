// Fuzz target `tls`: TLSConnection (record layer, handshake reassembly across records, hello,
// certificate and alert parsing, fingerprints, ChangeCipherSpec / TLS 1.3 protection, key
// installation from a key log, record decryption and key updates) fed both directions of one
// connection.
//
// Input format (see FUZZING.md):
//   byte 0   options: bit 0 a key log with the RFC 8448 §3 secrets for its client random (and a
//            TLS 1.2 CLIENT_RANDOM line for the same random), so that the seeds made from that trace
//            decrypt and mutations of them reach the decryptors; bit 1 small limits (records of at
//            most 600 bytes, handshake messages of at most 1024 bytes, 1 certificate parsed)
//   then chunks, each: u8 selector, u16 BE length, then length bytes (cut short at the end)
//     selector & 1: 0 client bytes, 1 server bytes
//     selector >> 1: capture time advances by that many milliseconds
// Then `finish(closed:at:)`, closed when the last byte is even.
// Events of every call are checked against what was fed and what came before.

private let fuzzClientRandom = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"

/// The secrets of RFC 8448 §3 (a TLS 1.3 handshake with AES-128-GCM-SHA256), and a made-up TLS 1.2
/// master secret for the same client random.
private let fuzzKeyLog = KeyLogStore(text: """
    CLIENT_HANDSHAKE_TRAFFIC_SECRET \(fuzzClientRandom) b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21
    SERVER_HANDSHAKE_TRAFFIC_SECRET \(fuzzClientRandom) b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38
    CLIENT_TRAFFIC_SECRET_0 \(fuzzClientRandom) 9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5
    SERVER_TRAFFIC_SECRET_0 \(fuzzClientRandom) a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643
    CLIENT_RANDOM \(fuzzClientRandom) 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f

    """)

private func violated(_ what: String) -> Never {
    fatalError("fuzz invariant violated: \(what)")
}

/// What the events of one connection said so far, to check each new one against.
private struct Seen {
    var notTLS = [false, false]
    var decrypting = [false, false]
    var ended = false
    var complete = false
    var applicationBytes = [0, 0]

    mutating func check(_ events: [TLSEvent], _ limits: TLSLimits, keys: Bool, called: Direction?) {
        for event in events {
            let from: Direction?
            switch event {
            case .clientHello, .helloRetryRequest, .serverHello, .alpnSelected:
                from = nil
            case .handshakeComplete:
                if ended { violated("handshakeComplete after the handshake ended") }
                ended = true
                complete = true
                from = nil
            case .handshakeFailed:
                if ended { violated("handshakeFailed after the handshake ended") }
                ended = true
                from = nil
            case .certificates(let infos, let count, let d, _):
                if infos.count > min(count, limits.maxCertificates) { violated("\(infos.count) certificates parsed of \(count)") }
                from = d
            case .handshakeMessage(_, let d, _), .changeCipherSpec(let d, _), .keyUpdate(let d, _),
                .alert(_, let d, _, _), .anomaly(_, let d):
                from = d
            case .decrypting(let d, _):
                if !keys { violated("decrypting without a key log") }
                if decrypting[Int(d.rawValue)] { violated("decrypting announced twice") }
                decrypting[Int(d.rawValue)] = true
                from = d
            case .applicationData(let bytes, let d, _):
                if bytes.count > limits.maxRecordLength { violated("\(bytes.count) application bytes from one record") }
                applicationBytes[Int(d.rawValue)] += bytes.count
                from = d
            case .encryptedRecord(let length, let d, _):
                if length > limits.maxRecordLength || length < 0 { violated("encrypted record of \(length) bytes") }
                from = d
            case .notTLS(let d, _):
                if notTLS[Int(d.rawValue)] { violated("notTLS twice") }
                notTLS[Int(d.rawValue)] = true
                if let called, called != d { violated("notTLS for the other direction") }
                continue
            }
            // A direction that stopped being TLS says nothing more.
            if let from, notTLS[Int(from.rawValue)] { violated("event from \(from) after notTLS: \(event)") }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let keys = input[0] & 1 != 0
    var limits = TLSLimits()
    if input[0] & 2 != 0 {
        limits.maxRecordLength = 600
        limits.maxHandshakeMessage = 1024
        limits.maxCertificates = 1
    }
    let connection = TLSConnection(keyLog: keys ? fuzzKeyLog : nil, limits: limits)
    var seen = Seen()
    var time = Timestamp(seconds: 1_700_000_000, nanoseconds: 0)
    var offset = 1
    while offset + 3 <= size {
        let selector = input[offset]
        let declared = Int(input[offset + 1]) << 8 | Int(input[offset + 2])
        offset += 3
        time = time.adding(seconds: Double(selector >> 1) * 0.001)
        let direction: Direction = selector & 1 == 0 ? .toServer : .toClient
        let length = min(declared, size - offset)
        // Each chunk in its own exactly-sized allocation: ASan sees any read past it.
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 1)
        defer { chunk.deallocate() }
        if length > 0 {
            chunk.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[offset..<(offset + length)]))
        }
        offset += length
        let wasLost = seen.notTLS[Int(direction.rawValue)]
        let events = connection.receive(UnsafeRawBufferPointer(chunk), from: direction, at: time)
        if wasLost && !events.isEmpty { violated("\(events.count) events from a direction that is not TLS") }
        seen.check(events, limits, keys: keys, called: direction)
    }
    seen.check(connection.finish(closed: input[size - 1] & 1 == 0, at: time), limits, keys: keys, called: nil)

    let summary = connection.summary
    if seen.complete != (summary.outcome == .complete) { violated("handshakeComplete \(seen.complete), outcome \(summary.outcome)") }
    if seen.ended != (summary.ended != nil) { violated("ended \(seen.ended), summary.ended \(String(describing: summary.ended))") }
    if summary.decrypted != seen.decrypting { violated("summary.decrypted \(summary.decrypted), announced \(seen.decrypting)") }
    if !keys && summary.keysFound { violated("keys found without a key log") }
    #if FUZZ_REPORT
    // `FUZZ_EXTRA_FLAGS=-DFUZZ_REPORT Fuzz/build.sh tls`, then run the binary on inputs: shows how far
    // each got (that the seeds reach the handshake, the decryptors and the application data).
    print("tls: outcome \(summary.outcome.name), version \(summary.version.map { "\($0)" } ?? "-"), keys found \(summary.keysFound), decrypted \(summary.decrypted), application bytes \(seen.applicationBytes)")
    #endif
    return 0
}
