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
