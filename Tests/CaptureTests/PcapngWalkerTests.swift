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

    /// A section header and a Decryption Secrets Block (pcapng §4.7) holding `secrets`.
    static func withSecrets(_ secrets: [UInt8]) -> [UInt8] {
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        var shb = le(0x0a0d_0d0a) + le(28) + le(0x1a2b_3c4d) + [1, 0, 0, 0] + [UInt8](repeating: 0xff, count: 8)
        shb += le(28)
        let padded = secrets + [UInt8](repeating: 0, count: (4 - secrets.count % 4) % 4)
        let length = UInt32(20 + padded.count)
        return shb + le(10) + le(length) + le(0x544c_534b) + le(UInt32(secrets.count)) + padded + le(length)
    }

    @Test func decryptionSecretsAreHandedOnWhateverThePieces() {
        let secrets = Array("CLIENT_RANDOM 00 11\nSERVER_HANDSHAKE_TRAFFIC_SECRET 22 333\n".utf8)
        let bytes = Self.withSecrets(secrets)
        for piece in [1, 3, 7, 12, 13, 4096] {
            let walker = PcapngInterfaceWalker()
            var got: [(UInt32, [UInt8])] = []
            // Half the blocks before the receiver is set: those are held, then handed on.
            let half = bytes.count / 2
            bytes.withUnsafeBytes { all in
                var i = 0
                while i < all.count {
                    if i >= half, walker.onSecrets == nil { walker.onSecrets = { got.append(($0, $1)) } }
                    let n = min(piece, all.count - i)
                    walker.consume(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)]))
                    i += n
                }
            }
            if walker.onSecrets == nil { walker.onSecrets = { got.append(($0, $1)) } }
            #expect(got.count == 1, "pieces of \(piece) bytes")
            #expect(got.first?.0 == 0x544c_534b)
            #expect(got.first?.1 == secrets, "pieces of \(piece) bytes")
        }
    }
}
