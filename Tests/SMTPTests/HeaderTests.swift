import Testing
@testable import SMTP
import Sessions

@Suite struct HeaderTests {
    @Test(arguments: [
        ("=?ISO-8859-1?Q?Caf=E9?=", "Café"),
        ("=?UTF-8?B?w6lsw6h2ZQ==?=", "élève"),
        ("=?utf-8?q?a_b?= =?utf-8?q?_c?=", "a b c"),
        ("plain =?us-ascii?q?x?= tail", "plain x tail"),
        ("=?gb2312?B?xOO6ww==?=", "你好"),
        ("=?unknown-charset?Q?x?=", "=?unknown-charset?Q?x?="),
        ("=?utf-8?Q?broken", "=?utf-8?Q?broken"),
    ])
    func rfc2047(raw: String, decoded: String) {
        #expect(RFC2047.decode(Array(raw.utf8)) == decoded)
    }

    /// Parses a header block given as bytes.
    func headers(_ block: [UInt8]) -> MessageHeaders {
        var c = HeaderCollector(limit: 1 << 16)
        block.withUnsafeBytes { c.append($0) }
        return c.parse(wanted: ["x-mailer"])
    }

    @Test func eightBitHeaderValues() {
        func bytes(_ s: String) -> [UInt8] { s.unicodeScalars.map { UInt8($0.value) } }  // each scalar one byte
        // No charset anywhere: windows-1252, as mail readers do.
        #expect(headers(bytes("Subject: What\u{92}s new\r\n\r\n")).subject == "What\u{2019}s new")
        // The declared charset wins, wherever the Content-Type stands.
        #expect(headers(bytes("Subject: Price 100 \u{a4}\r\nContent-Type: text/plain; charset=iso-8859-15\r\n\r\n")).subject == "Price 100 €")
        #expect(headers(bytes("Content-Type: text/plain;\r\n charset=\"ISO-8859-15\"\r\nSubject: \u{a4}\r\n\r\n")).subject == "€")
        #expect(headers(bytes("Content-Type: text/plain; charset=koi8-r\r\nSubject: \u{f0}\u{d2}\u{c9}\u{d7}\u{c5}\u{d4}\r\n\r\n")).subject == "Привет")
        #expect(headers(bytes("Content-Type: text/plain; charset=gb2312\r\nSubject: \u{c4}\u{e3}\u{ba}\u{c3}\r\n\r\n")).subject == "你好")
        #expect(headers(bytes("Content-Type: text/plain; charset=shift_jis\r\nSubject: \u{82}\u{b1}\u{82}\u{f1}\r\n\r\n")).subject == "こん")
        // Declared ISO-8859-1 or US-ASCII is read as windows-1252 (WHATWG); a charset that cannot
        // convert the bytes (or is unknown) falls back on it too. Never U+FFFD.
        #expect(headers(bytes("Content-Type: text/plain; charset=iso-8859-1\r\nSubject: \u{93}x\u{94}\r\n\r\n")).subject == "\u{201c}x\u{201d}")
        #expect(headers(bytes("Content-Type: text/plain; charset=utf-8\r\nSubject: caf\u{e9}\r\n\r\n")).subject == "café")
        #expect(headers(bytes("Content-Type: text/plain; charset=no-such-thing\r\nSubject: caf\u{e9}\r\n\r\n")).subject == "café")
        // Valid UTF-8 stays UTF-8, whatever is declared.
        #expect(headers(Array("Content-Type: text/plain; charset=iso-8859-15\r\nSubject: déjà vu ✓\r\n\r\n".utf8)).subject == "déjà vu ✓")
        // Encoded words are decoded as before, next to raw bytes in the declared charset.
        #expect(headers(bytes("Content-Type: text/plain; charset=iso-8859-15\r\nSubject: =?utf-8?q?caf=C3=A9?= \u{a4}5\r\n\r\n")).subject == "café €5")
        // Other reported headers too.
        let h = headers(bytes("From: Ren\u{e9} <r@x>\r\nX-Mailer: M\u{fc}ller 1\r\nDate: 1 Ao\u{fb}t\r\n\r\n"))
        #expect(h.from == "René <r@x>")
        #expect(h.extra["x-mailer"] == ["Müller 1"])
        #expect(h.date == "1 Août")
        #expect(!(h.from ?? "").contains("\u{fffd}"))
    }

    @Test func windows1252IsWHATWGs() {
        let all = HeaderText.windows1252(Array(0x80...0x9f))
        #expect(Array(all.unicodeScalars.map(\.value)) == [
            0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
            0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
        ])
        #expect(HeaderText.windows1252([0x41, 0xa0, 0xe9, 0xff]) == "A\u{a0}éÿ")
    }

    @Test func foldedHeadersAndBounds() {
        var c = HeaderCollector(limit: 1 << 16)
        let block = "Subject: first\r\n line\r\nTo: a@b,\r\n\tc@d\r\nX-Mailer: test 1\r\n\r\n"
        Array(block.utf8).withUnsafeBytes { c.append($0) }
        let h = c.parse(wanted: ["x-mailer"])
        #expect(h.subject == "first line")
        #expect(h.to == "a@b,\tc@d")
        #expect(h.extra["x-mailer"] == ["test 1"])
        var small = HeaderCollector(limit: 10)
        Array(block.utf8).withUnsafeBytes { small.append($0) }
        #expect(small.overflow)
        #expect(small.buffer.count == 10)
    }

    @Test(arguments: [
        ("2.0.0 Ok: queued as 4F3B2A17", "4F3B2A17"),
        ("OK id=1Mugho-0003Dg-Un", "1Mugho-0003Dg-Un"),
        ("2.0.0 x8M1l2Jb012345 Message accepted for delivery", "x8M1l2Jb012345"),
        ("2.6.0 <a@b> [InternalId=12345678, Hostname=EX01] Queued mail for delivery", "12345678"),
        ("ok 1700000000 qp 4242", "4242"),
        ("2.0.0 OK  1700000000 a1b2c3si12345pfb.123 - gsmtp", "a1b2c3si12345pfb.123"),
        ("Ok", nil),
    ] as [(String, String?)])
    func queueIDs(text: String, id: String?) {
        #expect(QueueID.extract(text) == id)
    }
}
