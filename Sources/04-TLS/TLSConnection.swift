import Vocabulary

/// One TLS connection, seen from the wire: fed each direction's reassembled bytes from the first
/// TLS byte on (after the `220` to STARTTLS, or from the start on port 465), it reports what the
/// handshake says, decrypts with a key log when the secrets are there, and hands back the clear
/// application bytes per direction.
///
/// No I/O and no knowledge of what runs inside: bytes and times in, ``TLSEvent``s out. "Need more
/// bytes" is not an error: a partial record is kept until the rest arrives. Bad traffic never
/// throws: it becomes an ``TLSEvent/anomaly(_:from:)``, and a direction whose record fails to
/// decrypt is reported as ``TLSEvent/encryptedRecord(length:from:at:)`` from there on.
///
/// Known gaps: TLS 1.3 early data (0-RTT) is reported as encrypted records, not decrypted;
/// renegotiation in TLS ≤ 1.2 is not followed (records after it fail to authenticate and the
/// direction turns encrypted); CCM suites and anything before TLS 1.0 are not decrypted.
public final class TLSConnection {
    public let limits: TLSLimits
    /// Secrets to decrypt with; nil reads the handshake only. Looked up when a direction first
    /// needs keys, so secrets added to the store until then are used.
    public let keyLog: KeyLogStore?
    /// The facts known so far.
    public private(set) var summary = TLSSummary()

    /// The TLS 1.3 secret phases of a direction.
    private enum Phase {
        case handshake
        /// `generation` counts key updates from `*_TRAFFIC_SECRET_0`.
        case application(generation: Int)
    }

    /// Per-direction state, indexed by `Direction.rawValue`.
    private struct Side {
        var parser: RecordParser
        var handshake: HandshakeAssembler
        /// The bytes stopped being TLS records: nothing more is read.
        var lost = false
        var recordsSeen = 0
        /// TLS ≤ 1.2: a ChangeCipherSpec was sent, so later records are protected.
        var changedCipher = false
        var decryptor: RecordDecryptor?
        /// Protected records cannot be read (no keys, or a failure): they are reported by size.
        var opaque = false
        var announcedDecrypting = false
        var phase = Phase.handshake
        var trafficSecret: [UInt8]?
        var protectedRecords = 0
        var finished = false
    }

    private var sides: [Side]
    private var clientHello: ClientHello?
    private var serverHello: ServerHello?

    public init(keyLog: KeyLogStore? = nil, limits: TLSLimits = .init()) {
        self.keyLog = keyLog
        self.limits = limits
        let side = Side(parser: RecordParser(limits: limits), handshake: HandshakeAssembler(limits: limits))
        sides = [side, side]
    }

    private var isTLS13: Bool { serverHello?.negotiatedVersion == .tls13 }
    private var isComplete: Bool { summary.ended == .complete }

    // MARK: - Input

    /// Feeds in-order bytes of one direction; returns what they revealed.
    public func receive(_ bytes: UnsafeRawBufferPointer, from direction: Direction, at time: Timestamp) -> [TLSEvent] {
        let d = Int(direction.rawValue)
        guard !sides[d].lost else { return [] }
        sides[d].parser.append(bytes)
        var events: [TLSEvent] = []
        while true {
            switch sides[d].parser.next() {
            case .needMore:
                return events
            case .notTLS(let reason):
                sides[d].lost = true
                if sides[d].recordsSeen > 0 {
                    events.append(.anomaly(Anomaly(.tlsRecordGarbled, "after \(sides[d].recordsSeen) records: \(reason)", at: time), from: direction))
                }
                events.append(.notTLS(from: direction, at: time))
                return events
            case .record(let record):
                sides[d].recordsSeen += 1
                process(record, direction, time, &events)
            }
        }
    }

    /// Convenience for arrays.
    public func receive(_ bytes: [UInt8], from direction: Direction, at time: Timestamp) -> [TLSEvent] {
        bytes.withUnsafeBytes { receive($0, from: direction, at: time) }
    }

    /// The connection ended (`closed`: FIN or RST seen) or the capture ended (`closed` false). A
    /// handshake that had not finished is then failed (closed) or incomplete.
    public func finish(closed: Bool, at time: Timestamp) -> [TLSEvent] {
        guard summary.ended == nil, closed else { return [] }
        let outcome = HandshakeOutcome.failed(after: summary.step, alert: nil, alertFrom: nil)
        summary.ended = outcome
        return [.handshakeFailed(outcome, at: time)]
    }

    // MARK: - Records

    private func process(_ record: TLSRecord, _ direction: Direction, _ time: Timestamp, _ events: inout [TLSEvent]) {
        let d = Int(direction.rawValue)
        let isProtected: Bool
        if isTLS13 {
            // RFC 8446 §5.2: every protected record has the outer type application_data; a
            // ChangeCipherSpec (middlebox compatibility) or an alert may still come in clear.
            isProtected = record.type == ContentType.applicationData.rawValue
        } else if serverHello == nil && direction == .toServer && record.type == ContentType.applicationData.rawValue && clientHello != nil {
            // Records after the ClientHello and before any ServerHello: TLS 1.3 early data.
            events.append(.encryptedRecord(length: record.fragment.count, from: direction, at: time))
            return
        } else {
            isProtected = sides[d].changedCipher
        }

        if !isProtected && record.type == ContentType.changeCipherSpec.rawValue {
            guard !isTLS13 else { return }  // RFC 8446 §5: ignored in TLS 1.3
            sides[d].changedCipher = true
            events.append(.changeCipherSpec(from: direction, at: time))
            return
        }
        guard isProtected else {
            dispatch(record.type, record.fragment, direction, encrypted: false, time, &events)
            return
        }

        sides[d].protectedRecords += 1
        if sides[d].decryptor == nil && !sides[d].opaque && !installKeys(direction) {
            sides[d].opaque = true
        }
        if sides[d].opaque {
            events.append(.encryptedRecord(length: record.fragment.count, from: direction, at: time))
            inferStep(record, direction, time, &events)
            return
        }
        guard var decryptor = sides[d].decryptor else { return }
        let result = decryptor.open(record)
        sides[d].decryptor = decryptor
        switch result {
        case .failure(let why):
            sides[d].opaque = true
            sides[d].decryptor = nil
            events.append(.anomaly(Anomaly(.tlsDecryptionFailed, "record \(sides[d].recordsSeen) (\(record.fragment.count) bytes): \(why.rawValue); the direction stays encrypted from here", at: time), from: direction))
            events.append(.encryptedRecord(length: record.fragment.count, from: direction, at: time))
            // Keys that do not fit leave the handshake as far as it can be told without them.
            inferStep(record, direction, time, &events)
        case .success(let opened):
            if !sides[d].announcedDecrypting {
                sides[d].announcedDecrypting = true
                summary.decrypted[d] = true
                events.append(.decrypting(from: direction, at: time))
            }
            dispatch(opened.type, opened.plaintext, direction, encrypted: true, time, &events)
        }
    }

    /// Without keys, the first protected record of a direction still tells how far the handshake
    /// went: it is that side's Finished (TLS ≤ 1.2) or flight (TLS 1.3).
    private func inferStep(_ record: TLSRecord, _ direction: Direction, _ time: Timestamp, _ events: inout [TLSEvent]) {
        let d = Int(direction.rawValue)
        guard sides[d].protectedRecords == 1, summary.ended == nil else { return }
        if isTLS13 {
            if direction == .toClient {
                advance(.serverEncryptedFlight)
            } else if record.fragment.count == 2 + 1 + 16 {
                // An encrypted alert (2 bytes, the inner type, a 16-byte tag): the client refused
                // the server's flight. Its content cannot be read.
                fail(alert: nil, from: direction, time, &events)
            } else {
                // A client sends protected records only once it accepted the server's flight.
                markFinished(.toClient, time, &events)
                markFinished(.toServer, time, &events)
            }
        } else {
            markFinished(direction, time, &events)
        }
    }

    // MARK: - Content

    private func dispatch(_ type: UInt8, _ bytes: [UInt8], _ direction: Direction, encrypted: Bool, _ time: Timestamp, _ events: inout [TLSEvent]) {
        let d = Int(direction.rawValue)
        switch ContentType(rawValue: type) {
        case .handshake:
            for out in sides[d].handshake.append(bytes) {
                switch out {
                case .message(let t, let body):
                    handshakeMessage(t, body, direction, time, &events)
                case .tooLong(let t, let length):
                    events.append(.anomaly(Anomaly(.tlsHandshakeMessageTooLong, "type \(t), \(length) bytes, over the limit of \(limits.maxHandshakeMessage)", at: time), from: direction))
                }
            }
        case .alert:
            var i = 0
            while i + 2 <= bytes.count {
                if let alert = TLSAlert.parse(Array(bytes[i..<(i + 2)])) {
                    events.append(.alert(alert, from: direction, encrypted: encrypted, at: time))
                    if summary.ended == nil { fail(alert: alert, from: direction, time, &events) }
                }
                i += 2
            }
            if bytes.count % 2 != 0 {
                events.append(.anomaly(Anomaly(.tlsMalformedAlert, "\(bytes.count) bytes", at: time), from: direction))
            }
        case .applicationData:
            if !encrypted {
                events.append(.anomaly(Anomaly(.tlsCleartextApplicationData, "\(bytes.count) bytes before encryption", at: time), from: direction))
            }
            events.append(.applicationData(bytes, from: direction, at: time))
        case .changeCipherSpec, .heartbeat:
            break
        case nil:
            events.append(.anomaly(Anomaly(.tlsUnknownContentType, "inner content type \(type)", at: time), from: direction))
        }
    }

    private func handshakeMessage(_ type: UInt8, _ body: [UInt8], _ direction: Direction, _ time: Timestamp, _ events: inout [TLSEvent]) {
        let d = Int(direction.rawValue)
        guard let kind = HandshakeType(rawValue: type) else {
            events.append(.anomaly(Anomaly(.tlsUnknownHandshakeType, "type \(type)", at: time), from: direction))
            return
        }
        switch kind {
        case .clientHello:
            guard let hello = ClientHello.parse(body) else { return malformed(kind, direction, time, &events) }
            let ja3 = Fingerprint.ja3(hello), ja4 = Fingerprint.ja4(hello)
            if clientHello == nil {
                // The first ClientHello names the client; a second one (after a HelloRetryRequest)
                // must keep its random, which keys the key log.
                clientHello = hello
                summary.clientRandom = hello.random
                summary.sni = hello.serverName
                summary.alpnOffered = hello.alpn
                summary.ja3 = ja3
                summary.ja3Text = Fingerprint.ja3Text(hello)
                summary.ja4 = ja4
            }
            advance(.clientHello)
            events.append(.clientHello(hello, ja3: ja3, ja4: ja4, at: time))
        case .serverHello:
            guard let hello = ServerHello.parse(body) else { return malformed(kind, direction, time, &events) }
            if hello.isHelloRetryRequest {
                summary.helloRetryRequest = true
                advance(.helloRetryRequest)
                events.append(.helloRetryRequest(hello, at: time))
                return
            }
            serverHello = hello
            summary.version = hello.negotiatedVersion
            summary.cipher = CipherSuite(id: hello.cipherSuite)
            summary.ja3s = Fingerprint.ja3s(hello)
            summary.ja3sText = Fingerprint.ja3sText(hello)
            advance(.serverHello)
            events.append(.serverHello(hello, ja3s: Fingerprint.ja3s(hello), at: time))
            if let alpn = hello.alpn {
                summary.alpn = alpn
                events.append(.alpnSelected(alpn, at: time))
            }
        case .encryptedExtensions:
            if let alpn = alpnInEncryptedExtensions(body) {
                summary.alpn = alpn
                events.append(.alpnSelected(alpn, at: time))
            }
            events.append(.handshakeMessage(kind, from: direction, at: time))
        case .certificate:
            guard let ders = certificateList(body, tls13: isTLS13) else { return malformed(kind, direction, time, &events) }
            let infos = ders.prefix(limits.maxCertificates).compactMap { CertificateInfo(der: $0) }
            if infos.count < min(ders.count, limits.maxCertificates) {
                events.append(.anomaly(Anomaly(.tlsCertificateUnparsed, "\(min(ders.count, limits.maxCertificates) - infos.count) of \(ders.count) certificates could not be parsed", at: time), from: direction))
            }
            if direction == .toClient {
                summary.serverCertificates = infos
                advance(.certificate)
            }
            events.append(.certificates(infos, count: ders.count, from: direction, at: time))
        case .serverHelloDone:
            advance(.serverHelloDone)
            events.append(.handshakeMessage(kind, from: direction, at: time))
        case .clientKeyExchange:
            advance(.clientKeyExchange)
            events.append(.handshakeMessage(kind, from: direction, at: time))
        case .finished:
            events.append(.handshakeMessage(kind, from: direction, at: time))
            markFinished(direction, time, &events)
            if isTLS13 {
                // RFC 8446 §7.1: after its Finished a side sends under its application traffic secret.
                sides[d].phase = .application(generation: 0)
                sides[d].decryptor = nil
                if !installKeys(direction) { sides[d].opaque = true }
            }
        case .keyUpdate:
            events.append(.handshakeMessage(kind, from: direction, at: time))
            guard isTLS13, case .application(let generation) = sides[d].phase, let secret = sides[d].trafficSecret,
                let suite = summary.cipher
            else { return }
            let next = KeySchedule.nextTrafficSecret(suite.hash, secret: secret)
            sides[d].trafficSecret = next
            sides[d].phase = .application(generation: generation + 1)
            sides[d].decryptor = RecordDecryptor.tls13(suite: suite, secret: next)
            if sides[d].decryptor == nil { sides[d].opaque = true }
            events.append(.keyUpdate(from: direction, at: time))
        case .helloRequest, .newSessionTicket, .endOfEarlyData, .serverKeyExchange, .certificateRequest,
            .certificateVerify, .certificateStatus, .messageHash:
            events.append(.handshakeMessage(kind, from: direction, at: time))
        }
    }

    private func malformed(_ kind: HandshakeType, _ direction: Direction, _ time: Timestamp, _ events: inout [TLSEvent]) {
        events.append(.anomaly(Anomaly(.tlsMalformedHandshake, "\(kind) could not be parsed", at: time), from: direction))
    }

    // MARK: - Handshake state

    private func advance(_ step: HandshakeStep) {
        if summary.ended == nil && step > summary.step { summary.step = step }
    }

    private func markFinished(_ direction: Direction, _ time: Timestamp, _ events: inout [TLSEvent]) {
        let d = Int(direction.rawValue)
        guard !sides[d].finished else { return }
        sides[d].finished = true
        advance(direction == .toClient ? .serverFinished : .clientFinished)
        if sides[0].finished && sides[1].finished && summary.ended == nil {
            summary.step = .complete
            summary.ended = .complete
            events.append(.handshakeComplete(at: time))
        }
    }

    private func fail(alert: TLSAlert?, from direction: Direction, _ time: Timestamp, _ events: inout [TLSEvent]) {
        let outcome = HandshakeOutcome.failed(after: summary.step, alert: alert, alertFrom: direction)
        summary.ended = outcome
        events.append(.handshakeFailed(outcome, at: time))
    }

    // MARK: - Keys

    /// Sets up the decryptor of a direction from the key log; false when the secrets (or the
    /// hellos they need) are not there, or the suite is not one this layer decrypts.
    private func installKeys(_ direction: Direction) -> Bool {
        let d = Int(direction.rawValue)
        guard let store = keyLog, let ch = clientHello, let sh = serverHello,
            let secrets = store.secrets(forClientRandom: ch.random)
        else { return false }
        summary.keysFound = true
        let suite = CipherSuite(id: sh.cipherSuite)
        if isTLS13 {
            let label: KeyLogLabel
            switch (sides[d].phase, direction) {
            case (.handshake, .toServer): label = .clientHandshakeTrafficSecret
            case (.handshake, .toClient): label = .serverHandshakeTrafficSecret
            case (.application(0), .toServer): label = .clientTrafficSecret0
            case (.application(0), .toClient): label = .serverTrafficSecret0
            case (.application, _): return false  // after a key update nothing to start from
            }
            guard let secret = secrets[label], let decryptor = RecordDecryptor.tls13(suite: suite, secret: secret) else { return false }
            sides[d].trafficSecret = secret
            sides[d].decryptor = decryptor
            return true
        }
        guard let master = secrets[.clientRandom],
            let pair = RecordDecryptor.tls12(suite: suite, masterSecret: master, clientRandom: ch.random, serverRandom: sh.random, encryptThenMAC: sh.encryptThenMAC)
        else { return false }
        sides[d].decryptor = direction == .toServer ? pair.client : pair.server
        return true
    }
}
