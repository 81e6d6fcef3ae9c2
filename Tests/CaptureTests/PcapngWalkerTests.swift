import Foundation
import Testing
@testable import Capture

/// The pcapng walker follows the blocks whatever pieces the bytes arrive in (a pipe or zlib can
/// cut anywhere), and agrees with libpcap on each packet's interface.
@Suite struct PcapngWalkerTests {
    static let files = [
        fixtures.appendingPathComponent("two-interfaces.pcapng"),
        repoRoot.appendingPathComponent("Captures/middlebox-plain-relay-both-legs.pcapng"),
    ]

    /// Each packet's interface as `PcapFile` reports it.
    func interfacesRead(_ url: URL) throws -> [Int] {
        let file = try PcapFile(path: url.path, index: 0)
        var out: [Int] = []
        while let p = try file.next() { out.append(p.vantage.interface) }
        return out
    }

    @Test(arguments: files)
    func piecesMakeNoDifference(_ url: URL) throws {
        let expected = try interfacesRead(url)
        #expect(Set(expected).count == 2, "packets on two interfaces")
        let bytes = try [UInt8](Data(contentsOf: url))
        for piece in [1, 3, 7, 12, 13, 4096] {
            let walker = PcapngInterfaceWalker()
            bytes.withUnsafeBytes { all in
                var i = 0
                while i < all.count {
                    let n = min(piece, all.count - i)
                    walker.consume(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)]))
                    i += n
                }
            }
            let seen = expected.indices.map { _ in walker.nextPacketInterface() }
            #expect(seen == expected, "pieces of \(piece) bytes")
        }
    }

    @Test func classicPcapSwitchesItOff() throws {
        let bytes = try [UInt8](Data(contentsOf: fixtures.appendingPathComponent("ethernet.pcap")))
        let walker = PcapngInterfaceWalker()
        bytes.withUnsafeBytes { walker.consume($0) }
        #expect(walker.nextPacketInterface() == 0)
    }
}
