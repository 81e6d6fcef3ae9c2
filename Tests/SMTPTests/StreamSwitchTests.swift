import Testing
@testable import SMTP
import Vocabulary

/// The decoder's side of the stream transform: the TLS bytes it held or saw are handed back
/// whole, and after `streamSwitched` it reads the clear dialogue as RFC 3207 §4.2 prescribes.
@Suite struct StreamSwitchTests {
    static func feed(_ d: SMTPDecoder, _ dir: Direction, _ s: [UInt8], _ t: Int64) {
        s.withUnsafeBytes { d.receive(dir, $0, at: Timestamp(nanoseconds: t)) }
    }

    static func handedBytes(_ d: SMTPDecoder, _ dir: Direction) -> [UInt8] {
        d.takeHandedBack().flatMap { h -> [UInt8] in
            if case .bytes(let x, let b, _) = h, x == dir { return b }
            return []
        }
    }

    @Test func startTLSHandsBackEveryByteAfterThe220() throws {
        let d = SMTPDecoder()
        Self.feed(d, .toClient, Array(greeting.utf8), 1)
        Self.feed(d, .toServer, Array("EHLO a\r\nSTARTTLS\r\n".utf8), 2)
        Self.feed(d, .toClient, Array("250 mx\r\n220 Go ahead\r\n".utf8), 3)
        // A ClientHello cut after two bytes: held while deciding, then handed back.
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]
        Self.feed(d, .toServer, Array(hello[..<2]), 4)
        #expect(!d.tlsBegan)
        Self.feed(d, .toServer, Array(hello[2...]), 5)
        #expect(d.tlsBegan)
        #expect(d.takeEvents().contains { if case .tlsStarted = $0 { true } else { false } })
        #expect(Self.handedBytes(d, .toServer) == hello)
        Self.feed(d, .toClient, [0x16, 0x03, 0x03], 6)
        #expect(Self.handedBytes(d, .toClient) == [0x16, 0x03, 0x03])

        d.streamSwitched(implicit: false)
        #expect(!d.tlsBegan)
        Self.feed(d, .toServer, Array("EHLO a\r\n".utf8), 7)
        Self.feed(d, .toClient, Array("250 mx\r\n".utf8), 8)
        let events = d.takeEvents()
        let ehlo = events.compactMap { if case .command(let c) = $0 { c } else { nil } }
        #expect(ehlo.map(\.verb) == [.ehlo])
        let replies = events.compactMap { if case .reply(_, let i, let v) = $0 { (i, v) } else { nil } }
        #expect(replies.count == 1 && replies[0].0 == ehlo[0].index && replies[0].1 == .ehlo)
        #expect(d.takeHandedBack().isEmpty)
    }

    @Test func implicitTLSHandsBackFromTheFirstByteAndAwaitsTheGreeting() throws {
        let d = SMTPDecoder()
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x01, 9]
        Self.feed(d, .toServer, Array(hello[..<1]), 1)
        Self.feed(d, .toServer, Array(hello[1...]), 2)
        #expect(d.tlsBegan)
        #expect(Self.handedBytes(d, .toServer) == hello)
        d.streamSwitched(implicit: true)
        Self.feed(d, .toClient, Array(greeting.utf8), 3)
        let events = d.takeEvents()
        // The greeting inside TLS answers no command.
        #expect(events.contains { if case .reply(let r, nil, nil) = $0 { r.code == 220 } else { false } })
    }

    @Test func clearTextNeverHandsBack() {
        let d = SMTPDecoder()
        Self.feed(d, .toClient, Array(greeting.utf8), 1)
        Self.feed(d, .toServer, Array("EHLO a\r\n".utf8), 2)
        #expect(!d.tlsBegan)
        #expect(d.takeHandedBack().isEmpty)
    }
}
