import Capture
@testable import Pipeline
import Vocabulary
import Testing

@Suite struct PrefetchTests {
    /// Reading on a second thread hands over the same packets, in the same order, with the same
    /// errors — across several files, one of them missing and one cut short, and a large capture
    /// that fills many blocks.
    @Test func prefetchingDeliversWhatDirectReadingDoes() throws {
        struct Seen: Equatable {
            var time: Timestamp, bytes: [UInt8], wireLength: Int, vantage: Vantage
        }
        func read(_ paths: [String], prefetch: Bool) -> ([Seen], [String]) {
            let set = CaptureSet(paths: paths)
            var seen: [Seen] = []
            let each: (RawPacket) -> Void = { p in
                seen.append(Seen(time: p.time, bytes: Array(p.bytes), wireLength: p.wireLength, vantage: p.vantage))
            }
            if prefetch { PacketPrefetch.forEach(set, each) } else { set.forEach(each) }
            return (seen, set.errors.map(\.description))
        }
        let paths = ["/nonexistent/capture.pcap", "ethernet.pcap", "cut-short.pcap", "ipv6.pcap"].map {
            $0.hasPrefix("/") ? $0 : repoRoot.appendingPathComponent("Tests/Fixtures/packets").appendingPathComponent($0).path
        } + [repoRoot.appendingPathComponent("Captures/large-message-impaired.pcap").path]
        let direct = read(paths, prefetch: false), prefetched = read(paths, prefetch: true)
        #expect(direct.0.count > 1000)
        #expect(direct.0 == prefetched.0)
        #expect(direct.1 == prefetched.1)
        #expect(direct.1.count == 2)
    }
}
