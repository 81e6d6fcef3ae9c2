import Foundation
import Pipeline
import Sessions
import Testing
import TLS

/// The captures in Captures/ were made by real mail software; each has a truth file written by the
/// capture lab from what that software itself reported (client transcript, Postfix log, proxy log).
let truthFiles: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: capturesDir.path)) ?? [])
    .filter { $0.hasSuffix(".truth.json") }.sorted()

@Suite struct CaptureTruthTests {
    @Test func everyCaptureHasTruth() {
        #expect(truthFiles.count >= 20)
    }

    @Test(arguments: truthFiles)
    func transactionsMatchWhatTheSoftwareReported(truthName: String) throws {
        try Self.check(truthName: truthName, keyLog: nil)
    }

    /// The key log the lab wrote for a capture (the one its tshark check was given), if any.
    static func keyLogName(_ truthName: String) -> String? {
        let truth = loadJSON(capturesDir.appendingPathComponent(truthName))
        for s in truth?["sessions"] as? [[String: Any]] ?? [] {
            guard let command = (s["tshark_check"] as? [String: Any])?["command"] as? String,
                let r = command.range(of: "tls.keylog_file:")
            else { continue }
            return String(command[r.upperBound...].prefix { $0 != " " })
        }
        return nil
    }

    static let withKeys = truthFiles.filter { keyLogName($0) != nil }

    /// With the lab's key log, what was sent inside TLS is found as in clear text: every
    /// transaction, recipient, Subject, Message-ID and queue id.
    @Test(arguments: withKeys)
    func decryptedTransactionsMatchWhatTheSoftwareReported(truthName: String) throws {
        let name = try #require(Self.keyLogName(truthName))
        let data = try #require(FileManager.default.contents(atPath: capturesDir.appendingPathComponent(name).path), "\(name)")
        let store = KeyLogStore()
        store.add(data)
        store.finishInput()
        #expect(store.goodLines > 0)
        try Self.check(truthName: truthName, keyLog: store)
    }

    /// Keys for the right client random that do not open its records: the failure is an anomaly,
    /// and the session goes on as encrypted (nothing inside TLS is made up).
    @Test func wrongKeysAreAnAnomalyAndTheRestStaysEncrypted() throws {
        let random = "6a86d11d7c89fba352a62d4dbc45c8d14b9b13bb842e0723a85028686e7f2cf5"  // tls12-starttls-gcm-smtplib's
        let store = KeyLogStore(text: "CLIENT_RANDOM \(random) " + String(repeating: "ab", count: 48) + "\n")
        var options = AnalyzerOptions()
        options.keyLog = store
        let (result, _) = analyze([capturesDir.appendingPathComponent("tls12-starttls-gcm-smtplib.pcap").path], options: options)
        let s = try #require(result.sessions.first)
        #expect(s.anomalies.contains { $0.name == .tlsDecryptionFailed })
        #expect(s.tls?.decrypted == false)
        #expect(s.tls?.handshake == .complete)
        #expect(result.transactions(of: s).isEmpty)
    }

    static func check(truthName: String, keyLog: KeyLogStore?) throws {
        let truth = try #require(loadJSON(capturesDir.appendingPathComponent(truthName)))
        let capture = try #require(truth["capture"] as? String)
        var options = AnalyzerOptions()
        options.keyLog = keyLog
        let (result, errors) = analyze([capturesDir.appendingPathComponent(capture).path], options: options)
        #expect(errors.isEmpty)
        let truthSessions = try #require(truth["sessions"] as? [[String: Any]])
        #expect(result.sessions.count == truthSessions.count, "\(capture): sessions")
        var unmatched = result.sessions
        for ts in truthSessions {
            let client = ts["client"] as? String, server = ts["server"] as? String
            guard let i = unmatched.firstIndex(where: { $0.client.description == client && $0.server.description == server }) else {
                Issue.record("\(capture): no session \(client ?? "?") → \(server ?? "?")")
                continue
            }
            let s = unmatched.remove(at: i)
            // Lines sent inside TLS are not readable without the keys (the key logs beside the
            // TLS captures are not given here): the session shows TLS instead.
            let commands = ts["commands"] as? [[String: Any]] ?? []
            let heloInsideTLS = keyLog == nil && commands.first { ($0["command"] as? String)?.uppercased().hasPrefix("EHLO") == true || ($0["command"] as? String)?.uppercased().hasPrefix("HELO") == true }?["inside_tls"] as? Bool == true
            if ts["implicit_tls"] as? Bool == true { #expect(s.starttls == .implicit, "\(capture): TLS from the first byte") }
            if let helo = ts["helo"] as? String, !heloInsideTLS {
                // The name the client sent: accepted (session helo) or refused.
                #expect(s.helo ?? s.heloRefused.last?.name == helo, "\(capture): helo")
            }
            if ts["tls_failure"] != nil {
                // The handshake began after the 220 and failed: TLS records, not clear text.
                #expect(s.starttls == .started, "\(capture): STARTTLS")
                #expect(!s.anomalies.contains { $0.name == .plaintextAfterStartTLS }, "\(capture): anomaly")
            } else if ts["tls"] as? Bool == false, ts["starttls_reply_code"] as? Int == 220 {
                // STARTTLS accepted, and the dialogue went on in clear text: decoded, and said.
                #expect(s.starttls == .plaintext, "\(capture): STARTTLS")
                #expect(s.anomalies.contains { $0.name == .plaintextAfterStartTLS }, "\(capture): anomaly")
            }
            var expected = (ts["transactions"] as? [[String: Any]]) ?? []
            if expected.contains(where: { $0["inside_tls"] as? Bool == true }) {
                #expect(s.starttls == .started || s.starttls == .implicit, "\(capture): STARTTLS")
                if keyLog == nil {
                    // Sent after STARTTLS: encrypted, so not visible; the session says TLS started.
                    expected.removeAll { $0["inside_tls"] as? Bool == true }
                } else {
                    #expect(s.tls?.decrypted == true, "\(capture): decrypted")
                }
            }
            let got = result.transactions(of: s)
            #expect(got.count == expected.count, "\(capture): transactions of \(s.client)")
            for (t, e) in zip(got, expected) {
                let where_ = "\(capture) session \(s.id) transaction \(t.index)"
                #expect(t.mailFrom == e["mail_from"] as? String, "\(where_): mail_from")
                #expect(t.rcptTo == (e["rcpt_to"] as? [String] ?? []), "\(where_): rcpt_to")
                let rejected = (e["rcpt_rejected"] as? [[String: Any]] ?? []).map { RejectedRecipient(address: $0["address"] as? String ?? "", code: $0["code"] as? Int ?? 0) }
                #expect(t.rcptRejected == rejected, "\(where_): rcpt_rejected")
                #expect(t.outcome.rawValue == e["outcome"] as? String, "\(where_): outcome")
                if keyLog != nil { #expect(t.tls == (e["inside_tls"] as? Bool ?? false), "\(where_): tls") }
                if let q = e["queue_id"] as? String { #expect(t.queueID == q, "\(where_): queue_id") }
                // A message partly missing from the capture may lack the headers that were in the
                // gap; what it does report must still be right.
                let partial = !t.messageComplete
                if let subject = e["subject"] as? String, !(partial && t.headers?.subject == nil) { #expect(t.headers?.subject == subject, "\(where_): subject") }
                if let id = e["message_id"] as? String, !(partial && t.headers?.messageID == nil) { #expect(t.headers?.messageID == id, "\(where_): message_id") }
            }
        }
    }
}

/// Without keys, what the handshake says equals what tshark read from the same capture (the
/// truth files' `tshark_check`).
@Suite struct HandshakeTruthTests {
    static let withTshark = truthFiles.filter { name in
        let truth = loadJSON(capturesDir.appendingPathComponent(name))
        return (truth?["sessions"] as? [[String: Any]] ?? []).contains { $0["tshark_check"] is [String: Any] }
    }

    /// tshark's `TLS_AES_256_GCM_SHA384 (0x1302)` → the name; `TLS 1.2 (0x0303)` → `TLS 1.2`.
    static func name(_ s: String?) -> String? { s?.components(separatedBy: " (").first }

    @Test(arguments: withTshark)
    func handshakeFactsEqualTshark(truthName: String) throws {
        let truth = try #require(loadJSON(capturesDir.appendingPathComponent(truthName)))
        let capture = try #require(truth["capture"] as? String)
        let (result, _) = analyze([capturesDir.appendingPathComponent(capture).path])
        for ts in truth["sessions"] as? [[String: Any]] ?? [] {
            guard let check = ts["tshark_check"] as? [String: Any] else { continue }
            let s = try #require(result.sessions.first { $0.client.description == ts["client"] as? String && $0.server.description == ts["server"] as? String })
            let tls = try #require(s.tls, "\(capture) \(s.client): tls")
            let hello = check["client_hello"] as? [String: Any] ?? [:]
            #expect(tls.sni == hello["sni"] as? String, "\(capture) \(s.client): sni")
            #expect(tls.ja3 == hello["ja3"] as? String, "\(capture) \(s.client): ja3")
            if let sh = check["server_hello"] as? [String: Any] {
                #expect(tls.ja3s == sh["ja3s"] as? String, "\(capture) \(s.client): ja3s")
                #expect(tls.cipher == Self.name(sh["cipher_suite"] as? String), "\(capture) \(s.client): cipher")
            }
            if let v = check["negotiated_version"] as? String { #expect(tls.version == Self.name(v), "\(capture) \(s.client): version") }
            // The certificate travels in clear up to TLS 1.2 (tshark, with the keys, reads 1.3's too).
            if tls.version == "TLS 1.2", let cert = (check["certificates"] as? [[String: Any]])?.first(where: { $0["from"] as? String == "server" }) {
                // tshark writes `id-at-commonName=mx.example.org`; RFC 4514 text `CN=mx.example.org`.
                let tsharkName = { (k: String) in (cert[k] as? String)?.replacingOccurrences(of: "id-at-commonName=", with: "CN=") }
                #expect(tls.serverCertificate?.subject == tsharkName("subject"), "\(capture) \(s.client): certificate subject")
                #expect(tls.serverCertificate?.issuer == tsharkName("issuer"), "\(capture) \(s.client): certificate issuer")
            }
            #expect(!tls.decrypted)
            if ts["tls_failure"] != nil { #expect(tls.handshake == .failed, "\(capture) \(s.client): handshake") }
        }
    }
}
