import Testing
@testable import SMTP

/// The scanner searches line ends with memchr and checks 8-bit content in bulk; these tests hold
/// it to a plain byte-by-byte reading of RFC 5321 §4.5.2, whatever the segmentation.
@Suite struct BodyScannerTests {
    /// What one DATA content yields, read a byte at a time.
    struct Reading: Equatable, CustomStringConvertible {
        var consumed: Int?
        var size = 0
        var bareLineFeeds = 0
        var eightBit = false
        var endedWithBareLF = false
        var headerBytes = 0
        var description: String { "consumed \(consumed.map(String.init) ?? "-") size \(size) bareLF \(bareLineFeeds) 8bit \(eightBit) LF.LF \(endedWithBareLF) headers \(headerBytes)" }
    }

    static func reference(_ bytes: [UInt8]) -> Reading {
        var r = Reading()
        var lineStart = 0
        var inHeaders = true
        var i = 0
        while i < bytes.count {
            guard let lf = bytes[i...].firstIndex(of: 0x0a) else {
                // An unfinished line: all content (a lone "." too, until its line ends).
                let line = bytes[i...]
                r.size += line.first == UInt8(ascii: ".") ? line.count - 1 : line.count
                r.eightBit = r.eightBit || line.contains { $0 >= 0x80 }
                if inHeaders { r.headerBytes += line.count }
                break
            }
            lineStart = i
            let line = bytes[lineStart...lf]
            let crlf = lf > lineStart && bytes[lf - 1] == 0x0d
            if line.first == UInt8(ascii: "."), line.count == (crlf ? 3 : 2) {
                r.consumed = lf + 1
                r.endedWithBareLF = !crlf
                return r
            }
            if !crlf { r.bareLineFeeds += 1 }
            r.eightBit = r.eightBit || line.contains { $0 >= 0x80 }
            r.size += line.first == UInt8(ascii: ".") ? line.count - 1 : line.count
            if inHeaders {
                r.headerBytes += line.count
                if line.count == (crlf ? 2 : 1) { inHeaders = false }
            }
            i = lf + 1
        }
        return r
    }

    static func scanned(_ pieces: [[UInt8]]) -> Reading {
        var s = BodyScanner(headerLimit: 1 << 20)
        var r = Reading()
        var offset = 0
        for piece in pieces {
            if let n = piece.withUnsafeBytes({ s.scan($0) }) {
                r.consumed = offset + n
                break
            }
            offset += piece.count
        }
        r.size = s.size
        r.bareLineFeeds = s.bareLineFeeds
        r.eightBit = s.eightBit
        r.endedWithBareLF = s.endedWithBareLF
        r.headerBytes = s.headers.buffer.count
        return r
    }

    static let contents: [String] = [
        "Subject: plain\r\n\r\nline one\r\nline two\r\n.\r\nQUIT\r\n",
        "Subject: stuffed\r\n\r\n..one dot\r\n...two\r\n.\r\n",
        "Subject: bare\nX: y\r\n\r\nbare\nmixed\r\n\n\r\n.\r\nRSET\r\n",
        "Subject: caf\u{e9}\r\n\r\nna\u{ef}ve\r\n.\r\n",
        "Subject: ascii\r\n\r\nbody\r\n.\r\n\u{e9}after the end\r\n",
        "Subject: lf end\r\n\r\nbody\n.\nQUIT\r\n",
        "Subject: dot cr\r\n\r\n.\rx\r\nmore\r\n.\r\n",
        "Subject: unfinished\r\n\r\nno end yet\r\n..",
        "\r\n.\r\n",
        "Subject: long\r\n\r\n" + String(repeating: "0123456789abcdef", count: 40) + "\u{fc}\r\n.\r\n",
    ]

    @Test(arguments: contents.indices)
    func everySegmentationReadsLikeOneByteAtATime(index: Int) {
        let bytes = Array(Self.contents[index].utf8)
        let expected = Self.reference(bytes)
        #expect(Self.scanned([bytes]) == expected)
        #expect(Self.scanned(bytes.map { [$0] }) == expected)
        for seed in 1...40 as ClosedRange<UInt64> {
            var rng = SeededRandom(seed: seed)
            #expect(Self.scanned(bytes.randomPieces(&rng, maxPiece: 11)) == expected, "seed \(seed)")
        }
    }

    @Test func referenceReadsTheCasesItIsMeantTo() {
        // The reference itself, on the facts the cases were written for.
        #expect(Self.reference(Array(Self.contents[1].utf8)).size == "Subject: stuffed\r\n\r\n.one dot\r\n..two\r\n".utf8.count)
        #expect(Self.reference(Array(Self.contents[2].utf8)).bareLineFeeds == 3)
        #expect(Self.reference(Array(Self.contents[3].utf8)).eightBit)
        #expect(!Self.reference(Array(Self.contents[4].utf8)).eightBit)
        #expect(Self.reference(Array(Self.contents[5].utf8)).endedWithBareLF)
        #expect(Self.reference(Array(Self.contents[7].utf8)).consumed == nil)
    }
}
