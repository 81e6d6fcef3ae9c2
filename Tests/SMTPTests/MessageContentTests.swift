import Crypto
import Foundation
import Testing
@testable import SMTP
import Vocabulary

/// The opt-in body sink and the streaming MIME scanner: the content kept is the message as sent
/// (dot-unstuffed, BDAT chunks joined) whatever the segmentation; parts are found and hashed as
/// the bytes pass; nothing is kept unless asked.
@Suite struct MessageContentTests {
    static func sha(_ bytes: [UInt8]) -> String { MIMEScanner.hex(SHA256.hash(data: bytes)) }

    static let mime = """
        From: a@example.net\r
        Subject: parts\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed;\r
        \tboundary="outer"\r
        \r
        preamble, not a part\r
        --outer\r
        Content-Type: multipart/alternative; boundary=inner\r
        \r
        --inner\r
        Content-Type: text/plain; charset=utf-8\r
        Content-Transfer-Encoding: quoted-printable\r
        \r
        Caf=C3=A9 soft=\r
        break, trailing space   \r
        .stuffed line\r
        --inner\r
        Content-Type: text/html\r
        \r
        <p>hi</p>\r
        --inner--\r
        --outer\r
        Content-Type: application/pdf; name="ignored.pdf"\r
        Content-Disposition: attachment;\r
        \tfilename*0*=utf-8''r%C3%A9sum;\r
        \tfilename*1="e.pdf"\r
        Content-Transfer-Encoding: base64\r
        \r
        SGVsbG8s\r
        IHdvcmxkIQ==\r
        --outer--\r
        epilogue\r

        """

    /// What the client sends for `content`: dot-stuffed, then the terminator.
    static func wire(_ content: String) -> String {
        var out: [UInt8] = []
        var lineStart = true
        for b in content.utf8 {
            if lineStart, b == UInt8(ascii: ".") { out.append(b) }
            out.append(b)
            lineStart = b == 0x0a
        }
        return String(decoding: out, as: UTF8.self) + ".\r\n"
    }

    static func dialogue(_ content: String) -> Dialogue {
        Dialogue([
            .server("220 mx\r\n"), .client("EHLO ws\r\n"), .server("250 mx\r\n"),
            .client("MAIL FROM:<a@example.net>\r\n"), .server("250 ok\r\n"),
            .client("RCPT TO:<b@example.org>\r\n"), .server("250 ok\r\n"),
            .client("DATA\r\n"), .server("354 go\r\n"),
            .client(wire(content)), .server("250 ok\r\n"),
        ])
    }

    static var keepAll: SMTPDecoder.Options {
        var o = SMTPDecoder.Options()
        o.keepBodies = true
        o.scanParts = true
        o.keepParts = true
        return o
    }

    /// Every split of the wire bytes gives the same body and parts as one piece.
    @Test(arguments: [1, 2, 3, 7, 64, 1000])
    func bodyAndPartsWhateverTheSegmentation(_ size: Int) throws {
        // The line ".stuffed line" is sent as "..stuffed line".
        let content = Self.mime
        let (_, txns) = Self.dialogue(content).run(options: Self.keepAll) { bytes in
            stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min(bytes.count, $0 + size)]) }
        }
        let t = try #require(txns.first)
        #expect(t.body?.bytes == Array(content.utf8), "the body is the content, dot-unstuffed")
        #expect(t.body?.gaps == [])
        let parts = try #require(t.parts)
        #expect(parts.map(\.contentType) == ["text/plain", "text/html", "application/pdf"])
        let qp = Array("Café softbreak, trailing space\r\n.stuffed line".utf8)
        #expect(parts[0].data == qp)
        #expect(parts[0].size == qp.count)
        #expect(parts[0].sha256 == Self.sha(qp))
        #expect(parts[0].encoding == "quoted-printable")
        #expect(parts[1].data == Array("<p>hi</p>".utf8), "the CRLF before a boundary is the boundary's")
        #expect(parts[2].data == Array("Hello, world!".utf8))
        #expect(parts[2].filename == "résume.pdf", "RFC 2231 continuations and percent-encoding, over Content-Type's name")
        #expect(parts[2].disposition == "attachment")
        #expect(parts.allSatisfy { $0.complete })
    }

    /// The normal read path keeps nothing: no body, no parts, and hashing alone keeps no data.
    @Test func nothingKeptUnlessAsked() throws {
        let (_, plain) = Self.dialogue(Self.mime).run()
        #expect(plain.first?.body == nil)
        #expect(plain.first?.parts == nil)
        var o = SMTPDecoder.Options()
        o.scanParts = true
        let (_, scanned) = Self.dialogue(Self.mime).run(options: o)
        let t = try #require(scanned.first)
        #expect(t.body == nil)
        #expect(t.parts?.count == 3)
        #expect(t.parts?.allSatisfy { $0.data == nil } == true)
        #expect(t.parts?[2].sha256 == Self.sha(Array("Hello, world!".utf8)))
    }

    /// A message that is not multipart is one part: its whole body, line ends included.
    @Test func singlePartMessage() throws {
        let content = "Subject: x\r\n\r\nline one\r\nline two\r\n"
        let (_, txns) = Self.dialogue(content).run(options: Self.keepAll)
        let p = try #require(txns.first?.parts?.first)
        #expect(txns.first?.parts?.count == 1)
        #expect(p.contentType == "text/plain")
        #expect(p.data == Array("line one\r\nline two\r\n".utf8))
    }

    /// A gap in the message: the body says where and how much; the part it fell in is incomplete.
    @Test func gapInsideAPart() throws {
        let head = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
        let tail = "after the gap\r\n--b\r\nContent-Type: text/plain\r\n\r\nwhole\r\n--b--\r\n.\r\n"
        let d = Dialogue([
            .server("220 mx\r\n"), .client("EHLO ws\r\n"), .server("250 mx\r\n"),
            .client("MAIL FROM:<a@example.net>\r\n"), .server("250 ok\r\n"),
            .client("RCPT TO:<b@example.org>\r\n"), .server("250 ok\r\n"),
            .client("DATA\r\n"), .server("354 go\r\n"),
            .client(head), .clientGap(100), .client(tail), .server("250 ok\r\n"),
        ])
        let (_, txns) = d.run(options: Self.keepAll)
        let t = try #require(txns.first)
        #expect(t.messageComplete == false)
        #expect(t.body?.gaps == [MessageBody.Gap(offset: head.utf8.count, length: 100)])
        #expect(t.body?.bytes == Array((head + tail.dropLast(2)).utf8), "(\"\\r\\n\" is one Character: the terminator is two)")
        #expect(t.parts?.map(\.complete) == [false, true])
        #expect(t.parts?.last?.data == Array("whole".utf8))
    }

    /// BDAT chunks are joined, never unstuffed; a dot at a line start is content.
    @Test func bdatChunksJoined() throws {
        let c1 = "Subject: chunked\r\n\r\n.not stuffed\r\n", c2 = "second chunk\r\n"
        let d = Dialogue([
            .server("220 mx\r\n"), .client("EHLO ws\r\n"), .server("250-mx\r\n250 CHUNKING\r\n"),
            .client("MAIL FROM:<a@example.net>\r\n"), .server("250 ok\r\n"),
            .client("RCPT TO:<b@example.org>\r\n"), .server("250 ok\r\n"),
            .client("BDAT \(c1.utf8.count)\r\n" + c1), .server("250 ok\r\n"),
            .client("BDAT \(c2.utf8.count) LAST\r\n" + c2), .server("250 queued\r\n"),
        ])
        let (_, txns) = d.run(options: Self.keepAll)
        let t = try #require(txns.first)
        #expect(t.chunked)
        #expect(t.body?.bytes == Array((c1 + c2).utf8))
        #expect(t.parts?.first?.data == Array(".not stuffed\r\nsecond chunk\r\n".utf8))
    }

    /// Hostile structure: boundaries nested past the limit, a never-closed multipart, a line far
    /// longer than the line limit, base64 without padding. Nothing crashes; the parts are counted.
    @Test func hostileStructure() throws {
        var content = "Subject: x\r\n"
        for i in 0..<100 { content += "Content-Type: multipart/mixed; boundary=b\(i)\r\n\r\n--b\(i)\r\n" }
        content += "Content-Transfer-Encoding: base64\r\n\r\nSGk\r\n"
        content += String(repeating: "A", count: 50_000) + "\r\n"
        let (_, txns) = Self.dialogue(content).run(options: Self.keepAll)
        let t = try #require(txns.first)
        #expect(t.body?.bytes == Array(content.utf8))
        let parts = try #require(t.parts)
        #expect(parts.count == 1)
        #expect(parts[0].complete == false, "its multipart never closed")
        #expect(parts[0].size == parts[0].data?.count)
    }

    @Test func structuredFields() {
        let s = MIMEScanner.structured(Array(#" Attachment ; filename="a \"b\"; c.txt" ; size=3"#.utf8))
        #expect(s.value == "attachment")
        #expect(s.params["filename"] == "a \"b\"; c.txt")
        #expect(s.params["size"] == "3")
        let encoded = MIMEScanner.structured(Array("attachment; filename=\"=?UTF-8?B?w6kudHh0?=\"".utf8))
        #expect(encoded.params["filename"] == "é.txt", "RFC 2047 in a parameter, as many mailers send it")
    }
}
