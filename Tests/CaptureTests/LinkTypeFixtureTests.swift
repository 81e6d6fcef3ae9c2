import Crypto
import Foundation
import Packets
import Reassembly
import Vocabulary
import Testing
@testable import Capture

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures/packets")

/// The facts tshark and the fixture generator recorded for each file (Tests/Fixtures/packets/manifest.json).
nonisolated(unsafe) let manifest: [String: [String: Any]] = {
    guard let data = try? Data(contentsOf: fixtures.appendingPathComponent("manifest.json")),
        let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let files = json["files"] as? [String: [String: Any]]
    else { return [:] }
    return files
}()

/// Files libpcap reads without error and whose link type smtpscope decodes.
let readableFixtures: [String] = manifest.filter { _, v in
    let lib = v["libpcap"] as? [String: Any]
    let number = (v["link_type"] as? [String: Any])?["number"] as? Int
    return lib?["error"] is NSNull && number != 147
}.map(\.key).sorted()

/// Reassembles every connection of a file, recording each direction's bytes.
final class StreamCollector {
    struct Stream { var client: String; var server: String; var bytes: [[UInt8]] = [[], []]; var gaps = 0 }
    var streams: [Int: Stream] = [:]
    private var ids: [Int: Int] = [:]
    /// Takes the events of the reassembler's last call.
    func take(_ r: TCPReassembler) {
        for e in r.events {
            switch e {
            case .opened(let c):
                ids[c.handle] = c.id
                streams[c.id] = Stream(client: c.client.description, server: c.server.description)
            case .data(let h, let d, let b, _): streams[ids[h]!]!.bytes[Int(d.rawValue)] += b
            case .gap(let h, _, _, _): streams[ids[h]!]!.gaps += 1
            case .closed: break
            }
        }
    }
}

func decodeAll(_ name: String) throws -> (stats: PacketStats, streams: [StreamCollector.Stream], first: Timestamp?, interfaces: Set<Int>) {
    let file = try PcapFile(path: fixtures.appendingPathComponent(name).path, index: 0)
    let linkType = try #require(LinkType(dlt: file.dlt))
    var decoder = PacketDecoder(linkType: linkType)
    let collector = StreamCollector()
    let reassembler = TCPReassembler()
    var first: Timestamp?
    var last = Timestamp.zero
    var interfaces = Set<Int>()
    while let p = try file.next() {
        first = first ?? p.time
        last = p.time
        interfaces.insert(p.vantage.interface)
        decoder.decode(p.bytes, wireLength: p.wireLength, time: p.time) { seg in
            reassembler.process(seg, time: p.time, vantage: Vantage(file: 0))
            collector.take(reassembler)
        }
    }
    reassembler.finishAll(at: last)
    collector.take(reassembler)
    return (decoder.stats, collector.streams.sorted { $0.key < $1.key }.map(\.value), first, interfaces)
}

func sha256(_ b: [UInt8]) -> String { SHA256.hash(data: b).map { String(format: "%02x", $0) }.joined() }

@Suite struct LinkTypeFixtureTests {
    @Test func manifestIsPresent() {
        #expect(readableFixtures.count >= 18, "Tests/Fixtures/packets/manifest.json lists the link-type fixtures")
    }

    /// Every link type and header variant decodes to the same TCP streams tshark saw.
    @Test(arguments: readableFixtures)
    func decodesLikeTshark(name: String) throws {
        let facts = try #require(manifest[name])
        let tshark = try #require(facts["tshark"] as? [String: Any])
        let (stats, streams, first, _) = try decodeAll(name)
        #expect(stats.packets == tshark["packets"] as? Int)
        let expectedConnections = try #require(tshark["tcp_connections"] as? [[String: Any]])
        #expect(streams.count == expectedConnections.count)
        for expected in expectedConnections {
            let client = expected["client"] as? String, server = expected["server"] as? String
            let s = try #require(streams.first { $0.client == client && $0.server == server }, "\(name): \(client ?? "?") → \(server ?? "?") not found")
            let bytes = try #require(expected["payload_bytes"] as? [String: Int])
            let truncated = (tshark["truncated_packets"] as? Int ?? 0) > 0
            if truncated {
                // Snaplen-cut packets: what was not captured is delivered as gaps, never invented.
                #expect(s.gaps > 0)
            } else {
                #expect(s.bytes[0].count == bytes["client_to_server"], "\(name) client bytes")
                #expect(s.bytes[1].count == bytes["server_to_client"], "\(name) server bytes")
                let hashes = try #require(expected["payload_sha256"] as? [String: String])
                #expect(sha256(s.bytes[0]) == hashes["client_to_server"], "\(name) client stream")
                #expect(sha256(s.bytes[1]) == hashes["server_to_client"], "\(name) server stream")
                #expect(s.gaps == 0)
            }
        }
        // Timestamps keep their full precision (nanoseconds when the file has them).
        if let ts = tshark["first_timestamp"] as? String, let first {
            let parts = ts.split(separator: ".")
            let expected = Timestamp(seconds: Int64(parts[0])!, nanoseconds: Int64(parts[1])!)
            #expect(first == expected, "\(name) first timestamp")
        }
        #expect(stats.malformed == 0)
    }

    @Test func fragmentsAreReassembled() throws {
        let (stats, streams, _, _) = try decodeAll("ipv4-frag.pcap")
        #expect(stats.fragments == 6)
        #expect(stats.reassembledDatagrams == 2)
        #expect(streams.count == 1)
    }

    @Test func snaplenCutPacketsAreCountedAndDecodedAsFarAsTheBytesGo() throws {
        let (stats, streams, _, _) = try decodeAll("snaplen64.pcap")
        #expect(stats.truncated > 0)
        #expect(streams.count == 1, "the TCP headers fit in 64 bytes: the connection is still found")
    }

    @Test func pcapngInterfacesAreKept() throws {
        let (_, _, _, interfaces) = try decodeAll("two-interfaces.pcapng")
        #expect(interfaces == [0, 1])
        let (_, _, _, single) = try decodeAll("ethernet.pcapng")
        #expect(single == [0])
    }

    @Test func vlanTagsAreSkipped() throws {
        for name in ["vlan.pcap", "qinq.pcap"] {
            let (stats, streams, _, _) = try decodeAll(name)
            #expect(stats.notIP == 0, "\(name)")
            #expect(streams.count == 1, "\(name)")
        }
    }
}

@Suite struct CaptureErrorTests {
    func errors(_ name: String) -> (Int, [CaptureError]) {
        let set = CaptureSet(paths: [name.hasPrefix("/") ? name : fixtures.appendingPathComponent(name).path])
        var n = 0
        set.forEach { _ in n += 1 }
        return (n, set.errors)
    }

    @Test func missingFile() {
        let (_, e) = errors("/nonexistent/capture.pcap")
        #expect(e.map(\.problem) == ["no such file"])
    }

    @Test func notACapture() {
        #expect(errors("not-a-capture.txt").1.first?.problem == "not a capture file (neither pcap nor pcapng)")
    }

    @Test func emptyFile() {
        #expect(errors("empty.pcap").1.first?.problem.hasPrefix("file is cut short") == true)
    }

    @Test func cutShortKeepsThePacketsBeforeTheCut() {
        let (n, e) = errors("cut-short.pcap")
        #expect(n == 6)
        #expect(e.first?.problem.hasPrefix("file is cut short") == true)
    }

    @Test func mixedLinkTypes() {
        #expect(errors("mixed-linktypes.pcapng").1.first?.problem.hasPrefix("pcapng file mixes link types") == true)
    }

    @Test func unsupportedLinkTypeIsNotDecoded() throws {
        let f = try PcapFile(path: fixtures.appendingPathComponent("unsupported-linktype.pcap").path, index: 0)
        #expect(LinkType(dlt: f.dlt) == nil)
    }

    @Test func filesAreMergedInTimestampOrder() throws {
        let a = fixtures.appendingPathComponent("ethernet.pcap").path, b = fixtures.appendingPathComponent("ipv6.pcap").path
        let set = CaptureSet(paths: [a, b])
        var times: [Timestamp] = []
        var files = Set<Int>()
        set.forEach { p in
            times.append(p.time)
            files.insert(p.vantage.file)
        }
        #expect(times == times.sorted())
        #expect(files == [0, 1])
        #expect(set.errors.isEmpty)
    }

}

/// A real transfer across a lossy, reordering, duplicating link (Captures/large-message-impaired.pcap,
/// swaks to Postfix through the lab's seeded impairing bridge): the reassembled client stream is
/// exactly what the client sent.
@Suite struct ImpairedLinkTests {
    @Test func reassembledClientStreamEqualsWhatTheClientSent() throws {
        let captures = repoRoot.appendingPathComponent("Captures")
        // The message the lab sent, regenerated by its own deterministic script.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", captures.appendingPathComponent("lab/make_large_message.py").path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let message = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        var body: [UInt8] = []
        for b in message {
            if b == 0x0a { body += [0x0d, 0x0a] } else { body.append(b) }
        }
        let expected = Array("EHLO ws01.example.net\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n".utf8)
            + body + Array("\r\n.\r\nQUIT\r\n".utf8)  // swaks ends the data with an empty line before the dot

        let file = try PcapFile(path: captures.appendingPathComponent("large-message-impaired.pcap").path, index: 0)
        var decoder = PacketDecoder(linkType: try #require(LinkType(dlt: file.dlt)))
        let collector = StreamCollector()
        let reassembler = TCPReassembler()
        var last = Timestamp.zero
        while let packet = try file.next() {
            last = packet.time
            decoder.decode(packet.bytes, wireLength: packet.wireLength, time: packet.time) {
                reassembler.process($0, time: packet.time, vantage: Vantage(file: 0))
                collector.take(reassembler)
            }
        }
        reassembler.finishAll(at: last)
        collector.take(reassembler)
        let stream = try #require(collector.streams.values.first)
        #expect(collector.streams.count == 1)
        #expect(stream.gaps == 0, "every lost segment was retransmitted and seen")
        #expect(stream.bytes[0].count == expected.count)
        #expect(stream.bytes[0] == expected)
    }
}
