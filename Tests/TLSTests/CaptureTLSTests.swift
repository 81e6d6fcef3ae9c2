import Capture
import Foundation
import Packets
import Reassembly
import Vocabulary
import Testing
@testable import TLS

let capturesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Captures")

/// Each connection's delivered bytes per direction, as chunks with the time of their segment.
final class StreamCollector {
    struct Stream {
        var client: Endpoint
        var server: Endpoint
        var chunks: [[(bytes: [UInt8], time: Timestamp)]] = [[], []]
        var closed = false
    }
    var streams: [Int: Stream] = [:]
    var order: [Int] = []
    private var ids: [Int: Int] = [:]

    /// Takes the events of the reassembler's last call.
    func take(_ r: TCPReassembler) {
        for e in r.events {
            switch e {
            case .opened(let c):
                ids[c.handle] = c.id
                streams[c.id] = Stream(client: c.client, server: c.server)
                order.append(c.id)
            case .data(let h, let d, let bytes, let meta):
                streams[ids[h]!]?.chunks[Int(d.rawValue)].append((Array(bytes), meta.time))
            case .gap: break
            case .closed(let c, _): streams[c.id]?.closed = true
            }
        }
    }
}

func reassemble(_ path: String) -> [StreamCollector.Stream] {
    let collector = StreamCollector()
    let reassembler = TCPReassembler()
    let set = CaptureSet(paths: [path])
    var decoders: [Int: PacketDecoder] = [:]
    for f in set.files { if let lt = LinkType(dlt: f.dlt) { decoders[f.index] = PacketDecoder(linkType: lt) } }
    var last = Timestamp.zero
    set.forEach { p in
        last = max(last, p.time)
        decoders[p.vantage.file]?.decode(p.bytes, wireLength: p.wireLength, time: p.time) { seg in
            reassembler.process(seg, time: p.time, vantage: p.vantage)
            collector.take(reassembler)
        }
    }
    reassembler.finishAll(at: last)
    collector.take(reassembler)
    return collector.order.compactMap { collector.streams[$0] }
}

/// Where TLS starts in each direction: byte 0 on port 465; after STARTTLS (client) and after the
/// server's `220` that answers it (the second line starting with 220) on other ports.
func tlsOffsets(_ s: StreamCollector.Stream) -> (client: Int, server: Int)? {
    if s.server.port == 465 { return (0, 0) }
    let client = s.chunks[0].flatMap(\.bytes), server = s.chunks[1].flatMap(\.bytes)
    guard let c = find(Array("STARTTLS\r\n".utf8), in: client) else { return nil }
    var lineStart = 0, seen220 = 0
    while lineStart < server.count {
        let end = (find([13, 10], in: server, from: lineStart) ?? server.count - 2) + 2
        if server[lineStart...].starts(with: Array("220".utf8)) {
            seen220 += 1
            if seen220 == 2 { return (c + 10, end) }
        }
        lineStart = end
    }
    return nil
}

func find(_ needle: [UInt8], in hay: [UInt8], from: Int = 0) -> Int? {
    guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
    for i in from...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
    return nil
}

struct TLSRun {
    var client: Endpoint
    var summary: TLSSummary
    var clientText: String
    var serverText: String
    var anomalies: [String]
}

/// Feeds every TLS connection of a capture to the TLS layer, interleaving the directions in time order.
func runTLS(_ name: String, keys: Bool) throws -> [TLSRun] {
    let pcap = capturesDir.appendingPathComponent(name).path
    let store: KeyLogStore?
    if keys {
        let text = try String(contentsOf: capturesDir.appendingPathComponent((name as NSString).deletingPathExtension + ".keys"), encoding: .utf8)
        store = KeyLogStore(text: text)
    } else {
        store = nil
    }
    var runs: [TLSRun] = []
    for s in reassemble(pcap) {
        guard let (co, so) = tlsOffsets(s) else { continue }
        let tls = TLSConnection(keyLog: store)
        var pieces: [(d: Direction, bytes: [UInt8], time: Timestamp)] = []
        for (d, skip) in [(Direction.toServer, co), (.toClient, so)] {
            var at = 0
            for chunk in s.chunks[Int(d.rawValue)] {
                let start = max(0, skip - at)
                if start < chunk.bytes.count { pieces.append((d, Array(chunk.bytes[start...]), chunk.time)) }
                at += chunk.bytes.count
            }
        }
        pieces.sort { $0.time < $1.time }
        var events: [TLSEvent] = []
        for p in pieces { events += tls.receive(p.bytes, from: p.d, at: p.time) }
        events += tls.finish(closed: s.closed, at: pieces.last?.time ?? .zero)
        runs.append(TLSRun(client: s.client, summary: tls.summary,
                           clientText: String(decoding: applicationBytes(events, .toServer), as: UTF8.self),
                           serverText: String(decoding: applicationBytes(events, .toClient), as: UTF8.self),
                           anomalies: anomalies(events)))
    }
    return runs
}

/// What tshark 4.0 says of each hello, by client port.
struct TsharkHello {
    var ja3 = "", ja3Full = "", ja3s = "", ja3sFull = "", cipher = "", sni = "", version = ""
}

func tshark(_ name: String) throws -> [UInt16: TsharkHello] {
    let base = (name as NSString).deletingPathExtension
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
    p.arguments = ["-r", capturesDir.appendingPathComponent(name).path,
                   "-o", "tls.keylog_file:" + capturesDir.appendingPathComponent(base + ".keys").path,
                   "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2", "-T", "fields", "-E", "separator=|",
                   "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tls.handshake.type", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3_full",
                   "-e", "tls.handshake.ja3s", "-e", "tls.handshake.ja3s_full", "-e", "tls.handshake.ciphersuite",
                   "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.extensions.supported_version", "-e", "tls.handshake.version"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    var hellos: [UInt16: TsharkHello] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard f.count >= 11, let src = UInt16(f[0]), let dst = UInt16(f[1]) else { continue }
        let types = f[2].split(separator: ",")
        if types.contains("1") {
            hellos[src, default: TsharkHello()].ja3 = f[3]
            hellos[src, default: TsharkHello()].ja3Full = f[4]
            hellos[src, default: TsharkHello()].sni = f[8]
        }
        if types.contains("2") {
            hellos[dst, default: TsharkHello()].ja3s = f[5]
            hellos[dst, default: TsharkHello()].ja3sFull = f[6]
            hellos[dst, default: TsharkHello()].cipher = f[7]
            let selected = f[9].split(separator: ",").last.map(String.init) ?? ""
            hellos[dst, default: TsharkHello()].version = selected.isEmpty ? (f[10].split(separator: ",").first.map(String.init) ?? "") : selected
        }
    }
    return hellos
}

/// The lab's TLS captures (made by msmtp/GnuTLS and Python smtplib/OpenSSL against Postfix, with
/// the clients' own key logs), decrypted by the TLS layer and checked against tshark.
@Suite struct CaptureTLSTests {
    static let decrypted = ["tls13-starttls-msmtp.pcap", "tls12-starttls-chacha-msmtp.pcap", "tls12-implicit-cbc-smtplib.pcap",
                            "tls12-starttls-gcm-smtplib.pcap", "tls-intercepting-shield-client-leg.pcap", "tls-intercepting-shield-server-leg.pcap"]

    @Test(arguments: decrypted)
    func decryptsSMTP(_ name: String) throws {
        let runs = try runTLS(name, keys: true)
        #expect(!runs.isEmpty)
        for r in runs {
            #expect(r.anomalies.isEmpty, "\(name) \(r.client)")
            #expect(r.summary.outcome == .complete, "\(name)")
            #expect(r.summary.decrypted == [true, true], "\(name)")
            for command in ["EHLO ", "MAIL FROM:<", "RCPT TO:<", "DATA\r\n", "QUIT\r\n"] {
                #expect(r.clientText.uppercased().contains(command), "\(name): \(command)")  // smtplib writes "mail FROM:"
            }
            #expect(r.serverText.contains("250 "), "\(name)")
        }
    }

    @Test(arguments: decrypted + ["tls-handshake-failed.pcap"])
    func handshakeFactsEqualTshark(_ name: String) throws {
        let truth = try tshark(name)
        for keys in [true, false] {
            let runs = try runTLS(name, keys: keys)
            #expect(runs.count == truth.count, "\(name)")
            for r in runs {
                let t = try #require(truth[r.client.port], "\(name): no tshark hello for port \(r.client.port)")
                let s = r.summary
                #expect(s.ja3 == t.ja3, "\(name)")
                #expect(s.ja3Text == t.ja3Full, "\(name)")
                #expect(s.sni == t.sni, "\(name)")
                if !t.ja3s.isEmpty {
                    #expect(s.ja3s == t.ja3s, "\(name)")
                    #expect(s.ja3sText == t.ja3sFull, "\(name)")
                    #expect(s.cipher.map { hex4($0.id) } == t.cipher, "\(name)")
                    #expect(s.version.map { hex4($0.rawValue) } == t.version, "\(name)")
                }
            }
        }
    }

    /// Two refused handshakes: Postfix answers msmtp's ECDSA-only offer with handshake_failure;
    /// smtplib rejects the certificate (unknown_ca, in clear) after the server's TLS 1.3 flight.
    @Test func failedHandshakes() throws {
        for keys in [true, false] {
            let runs = try runTLS("tls-handshake-failed.pcap", keys: keys)
            #expect(runs.count == 2)
            guard runs.count == 2 else { return }
            #expect(runs[0].summary.outcome == .failed(after: .clientHello, alert: TLSAlert(level: 2, description: 40), alertFrom: .toClient))
            guard case .failed(let after, let alert, let from) = runs[1].summary.outcome else {
                Issue.record("second handshake: \(runs[1].summary.outcome)")
                continue
            }
            #expect(alert?.name == "unknown_ca" && from == .toServer)
            // With the server's handshake secret the server's Finished is read; without, its flight.
            #expect(after == (keys ? .serverFinished : .serverEncryptedFlight))
            #expect(runs[1].summary.serverCertificates.map(\.subject) == (keys ? ["CN=mx.example.org"] : []))
        }
    }

    /// TLS 1.2 certificates travel in clear: read without keys.
    @Test func tls12CertificateInClear() throws {
        let runs = try runTLS("tls12-starttls-gcm-smtplib.pcap", keys: false)
        let cert = try #require(runs.first?.summary.serverCertificates.first)
        #expect(cert.subject == "CN=mx.example.org")
        #expect(cert.issuer == "CN=mx.example.org")
        #expect(cert.notValidAfter > cert.notValidBefore)
    }

    /// The shield's certificate is issued by its own root, not the server's.
    @Test func shieldIssuer() throws {
        let client = try runTLS("tls-intercepting-shield-client-leg.pcap", keys: true)
        let server = try runTLS("tls-intercepting-shield-server-leg.pcap", keys: true)
        let ci = try #require(client.first?.summary.serverCertificates.first?.issuer)
        let si = try #require(server.first?.summary.serverCertificates.first?.issuer)
        #expect(ci.contains("Lab Mail Shield Root CA"))
        #expect(ci != si)
        #expect(client.first?.summary.ja3 != server.first?.summary.ja3)
    }
}
