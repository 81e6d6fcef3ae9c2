import Vocabulary
import Testing
@testable import TLS

/// Feeds flights to a connection, each in chunks of `chunk` bytes (0: whole), and collects events.
func feed(_ flights: [(toServer: Bool, bytes: [UInt8])], keyLog: KeyLogStore?, chunk: Int = 0, close: Bool = true) -> (TLSConnection, [TLSEvent]) {
    let c = TLSConnection(keyLog: keyLog)
    var events: [TLSEvent] = []
    var t: Int64 = 1_000_000_000
    for f in flights {
        t += 1_000_000
        let d: Direction = f.toServer ? .toServer : .toClient
        if chunk == 0 {
            events += c.receive(f.bytes, from: d, at: Timestamp(nanoseconds: t))
        } else {
            var i = 0
            while i < f.bytes.count {
                events += c.receive(Array(f.bytes[i..<min(i + chunk, f.bytes.count)]), from: d, at: Timestamp(nanoseconds: t))
                i += chunk
            }
        }
    }
    if close { events += c.finish(closed: true, at: Timestamp(nanoseconds: t + 1)) }
    return (c, events)
}

func applicationBytes(_ events: [TLSEvent], _ d: Direction) -> [UInt8] {
    events.flatMap { e -> [UInt8] in
        if case .applicationData(let b, let from, _) = e, from == d { return b }
        return []
    }
}

func anomalies(_ events: [TLSEvent]) -> [String] {
    events.compactMap { e in
        if case .anomaly(let a, _) = e { return a.name.rawValue }
        return nil
    }
}

@Suite struct ConnectionTests {
    /// RFC 8448 §3 decrypted end to end from its secrets: handshake, certificate, both Finished,
    /// the 50 application bytes each way and both close_notify alerts.
    @Test func rfc8448Decrypts() throws {
        let (c, events) = feed(RFC8448.flights, keyLog: KeyLogStore(text: RFC8448.keyLog))
        #expect(anomalies(events).isEmpty)
        #expect(applicationBytes(events, .toServer) == Array(0..<50))
        #expect(applicationBytes(events, .toClient) == Array(0..<50))
        let s = c.summary
        #expect(s.version == .tls13)
        #expect(s.cipher?.name == "TLS_AES_128_GCM_SHA256")
        #expect(s.sni == "server")
        #expect(s.outcome == .complete)
        #expect(s.decrypted == [true, true])
        #expect(s.serverCertificates.map(\.subject) == ["CN=rsa"])
        #expect(s.serverCertificates.first?.issuer == "CN=rsa")
        let alerts = events.compactMap { e -> String? in
            if case .alert(let a, let d, let enc, _) = e { return "\(d) \(a.name) \(enc)" }
            return nil
        }
        #expect(alerts == ["toServer close_notify true", "toClient close_notify true"])
        let messages = events.compactMap { e -> HandshakeType? in
            if case .handshakeMessage(let t, _, _) = e { return t }
            return nil
        }
        #expect(messages == [.encryptedExtensions, .certificateVerify, .finished, .finished, .newSessionTicket])
    }

    /// Chunking does not change the result: whole, byte by byte, and in 7-byte pieces.
    @Test func chunkingDoesNotMatter() {
        let keys = KeyLogStore(text: RFC8448.keyLog)
        let whole = feed(RFC8448.flights, keyLog: keys).1.map { String(describing: $0) }
        for chunk in [1, 7, 100] {
            let pieces = feed(RFC8448.flights, keyLog: keys, chunk: chunk).1.map { String(describing: $0) }
            #expect(pieces == whole, "chunk \(chunk)")
        }
    }

    /// Without keys the handshake facts remain; records are reported by size; the client's first
    /// protected record marks the handshake complete.
    @Test func rfc8448WithoutKeys() {
        let (c, events) = feed(RFC8448.flights, keyLog: nil)
        #expect(applicationBytes(events, .toServer).isEmpty)
        #expect(c.summary.outcome == .complete)
        #expect(c.summary.decrypted == [false, false])
        #expect(c.summary.serverCertificates.isEmpty)
        let sizes = events.compactMap { e -> Int? in
            if case .encryptedRecord(let n, _, _) = e { return n }
            return nil
        }
        #expect(sizes == [674, 53, 222, 67, 67, 19, 19])
    }

    /// A changed byte fails authentication: one anomaly, and that direction is encrypted from there.
    @Test func tamperedRecordIsAnAnomaly() {
        var flights = RFC8448.flights
        flights[4].bytes[20] ^= 0x01  // the client's application data
        let (c, events) = feed(flights, keyLog: KeyLogStore(text: RFC8448.keyLog))
        #expect(anomalies(events) == ["tls-decryption-failed"])
        #expect(applicationBytes(events, .toServer).isEmpty)
        #expect(applicationBytes(events, .toClient) == Array(0..<50))
        #expect(c.summary.outcome == .complete)
        let afterFailure = events.compactMap { e -> Int? in
            if case .encryptedRecord(let n, let d, _) = e, d == .toServer { return n }
            return nil
        }
        #expect(afterFailure == [67, 19])
    }

    /// The key log may gain the secrets after the connection was created (live mode).
    @Test func keysAddedLater() {
        let store = KeyLogStore()
        let c = TLSConnection(keyLog: store)
        _ = c.receive(RFC8448.clientHelloRecord, from: .toServer, at: .zero)
        store.add(Array(RFC8448.keyLog.utf8))
        var events = c.receive(RFC8448.serverHelloRecord + RFC8448.serverFlightRecord, from: .toClient, at: .zero)
        events += c.receive(RFC8448.clientFinishedRecord + RFC8448.clientApplicationRecord, from: .toServer, at: .zero)
        #expect(applicationBytes(events, .toServer) == Array(0..<50))
    }

    /// A handshake refused by a fatal alert says where it stopped.
    @Test func alertAfterClientHello() {
        let alert: [UInt8] = [21, 3, 3, 0, 2, 2, 40]
        let (c, events) = feed([(true, RFC8448.clientHelloRecord), (false, alert)], keyLog: nil)
        #expect(c.summary.outcome == .failed(after: .clientHello, alert: TLSAlert(level: 2, description: 40), alertFrom: .toClient))
        #expect(c.summary.outcome.name == "failed")
        #expect(events.contains { if case .handshakeFailed = $0 { return true } else { return false } })
    }

    /// A connection that closes mid-handshake failed; one that is still open is incomplete.
    @Test func closedOrIncomplete() {
        let flights = Array(RFC8448.flights.prefix(2))
        #expect(feed(flights, keyLog: nil, close: true).0.summary.outcome == .failed(after: .serverEncryptedFlight, alert: nil, alertFrom: nil))
        #expect(feed(flights, keyLog: nil, close: false).0.summary.outcome == .incomplete(after: .serverEncryptedFlight))
    }

    /// Bytes that are not TLS stop the direction (the caller may read them as clear text); a
    /// record over 2^14 + 2048 bytes does too.
    @Test func notTLSAndRecordLimit() {
        let (_, events) = feed([(true, Array("EHLO client.example\r\n".utf8))], keyLog: nil)
        #expect(events.contains { if case .notTLS(.toServer, _) = $0 { return true } else { return false } })
        let limit = TLSLimits().maxRecordLength
        #expect(limit == 18432)
        let over: [UInt8] = [23, 3, 3, UInt8((limit + 1) >> 8), UInt8((limit + 1) & 0xff)]
        let (_, e2) = feed([(true, RFC8448.clientHelloRecord + over)], keyLog: nil)
        #expect(anomalies(e2) == ["tls-record-garbled"])
        let atLimit: [UInt8] = [23, 3, 3, UInt8(limit >> 8), UInt8(limit & 0xff)]
        let (_, e3) = feed([(true, RFC8448.clientHelloRecord + atLimit)], keyLog: nil)
        #expect(anomalies(e3).isEmpty)  // waits for more bytes
    }

    /// A handshake message split over records is joined; one over the limit is skipped with an anomaly.
    @Test func handshakeAcrossRecords() {
        let body = Array(RFC8448.clientHelloRecord.dropFirst(5))
        let a = [22, 3, 1, 0, 10] + body.prefix(10), b = [22, 3, 1, UInt8((body.count - 10) >> 8), UInt8((body.count - 10) & 0xff)] + body.dropFirst(10)
        let (c, _) = feed([(true, Array(a) + Array(b))], keyLog: nil)
        #expect(c.summary.sni == "server")
        var limits = TLSLimits()
        limits.maxHandshakeMessage = 100
        let small = TLSConnection(limits: limits)
        let events = small.receive(RFC8448.clientHelloRecord, from: .toServer, at: .zero)
        #expect(anomalies(events) == ["tls-handshake-message-too-long"])
    }
}

@Suite struct KeyLogTests {
    @Test func parsesLabelsCommentsAndBadLines() {
        let r = String(repeating: "ab", count: 32)
        let text = """
            # a comment
            CLIENT_RANDOM \(r) \(String(repeating: "01", count: 48))

            CLIENT_EARLY_TRAFFIC_SECRET \(r) 02
            EXPORTER_SECRET \(r) 03
            UNKNOWN_LABEL \(r) 04
            CLIENT_RANDOM abcd 05
            CLIENT_RANDOM \(r) zz
            SERVER_TRAFFIC_SECRET_0 \(r) 06\r
            """
        let store = KeyLogStore(text: text)
        #expect(store.goodLines == 4)
        #expect(store.badLines == 3)
        let s = store.secrets(forClientRandom: hex(r))
        #expect(s?[.clientRandom]?.count == 48)
        #expect(s?[.clientEarlyTrafficSecret] == [2])
        #expect(s?[.exporterSecret] == [3])
        #expect(s?[.serverTrafficSecret0] == [6])
    }

    /// A growing file: a line is read once its newline arrives.
    @Test func growingFile() {
        let r = String(repeating: "cd", count: 32)
        let store = KeyLogStore()
        let line = Array("CLIENT_TRAFFIC_SECRET_0 \(r) 0a0b\n".utf8)
        store.add(line.prefix(30))
        #expect(store.secrets(forClientRandom: hex(r)) == nil)
        store.add(line.dropFirst(30))
        #expect(store.secrets(forClientRandom: hex(r))?[.clientTrafficSecret0] == [0x0a, 0x0b])
    }
}

@Suite struct FingerprintTests {
    /// The example of JA4.md: its cipher list hashes to 8daaf6152771 and its extensions and
    /// signature algorithms to e5627efa2ab1, with ALPN h2 and 15 ciphers / 16 extensions.
    @Test func ja4SpecExample() {
        let ciphers: [UInt16] = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035]
        let exts: [UInt16] = [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015]
        let hello = ClientHello(
            legacyVersion: 0x0303, random: [UInt8](repeating: 0, count: 32), sessionID: [], cipherSuites: [0x0a0a] + ciphers,
            compressionMethods: [0], extensions: ([0x1a1a] + exts).map { TLSExtension(type: $0, data: []) }, serverName: "x", alpn: ["h2"],
            firstALPNBytes: Array("h2".utf8), supportedVersions: [0x2a2a, 0x0304, 0x0303], supportedGroups: [], ecPointFormats: [],
            signatureAlgorithms: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601], keyShareGroups: [])
        #expect(Fingerprint.ja4(hello) == "t13d1516h2_8daaf6152771_e5627efa2ab1")
        var noSigs = hello
        noSigs.signatureAlgorithms = []
        #expect(Fingerprint.ja4(noSigs).hasSuffix("_6d807ffa2a79"))
    }

    @Test func ja4ALPNCharacters() {
        #expect(Fingerprint.alpnChars(nil) == "00")
        #expect(Fingerprint.alpnChars(Array("http/1.1".utf8)) == "h1")
        #expect(Fingerprint.alpnChars([0xab]) == "ab")
        #expect(Fingerprint.alpnChars([0xab, 0xcd]) == "ad")
        #expect(Fingerprint.alpnChars([0x30, 0xab]) == "3b")
        #expect(Fingerprint.alpnChars([0x30, 0xab, 0xcd, 0x31]) == "01")
    }

    @Test func greaseValues() {
        #expect(isGREASE(0x0a0a) && isGREASE(0xfafa) && !isGREASE(0x0a1a) && !isGREASE(0x1301))
    }
}
