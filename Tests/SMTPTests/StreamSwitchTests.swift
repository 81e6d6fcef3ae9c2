import Testing
@testable import SMTP
import Sessions
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

/// A ClientHello shorter than a record header, then the end: TLS is decided at the close, and the
/// bytes still reach the TLS layer (the session says which handshake step it stopped at).
@Suite struct StreamSwitchAtCloseTests {
    @Test func tlsDecidedAtTheCloseStillReportsTheHandshake() throws {
        let b = SessionBuilder(session: Session(id: 1, client: Endpoint(.v4(1), 1), server: Endpoint(.v4(2), 25), vantage: Vantage(file: 0), start: .zero, end: .zero))
        for (dir, text) in [(Direction.toClient, greeting), (.toServer, "EHLO a\r\nSTARTTLS\r\n"), (.toClient, "250 mx\r\n220 Go ahead\r\n")] {
            Array(text.utf8).withUnsafeBytes { b.receive(dir, $0, at: .zero) }
        }
        [UInt8]([0x16, 0x03]).withUnsafeBytes { b.receive(.toServer, $0, at: .zero) }
        #expect(b.session.tls == nil)
        let s = b.close(reason: .fin, at: Timestamp(nanoseconds: 1))
        #expect(s.starttls == .started)
        let tls = try #require(s.tls)
        #expect(tls.handshake == .failed)
        #expect(tls.stoppedAfter == "before-client-hello")
    }
}
