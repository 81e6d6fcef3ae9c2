import Foundation
@testable import Reporting
import Vocabulary
import Testing

/// The writer skips plain text eight bytes at a time; it must write exactly what a byte-by-byte
/// writer does, and what it writes must be JSON that reads back as the text.
@Suite struct JSONWriterTests {
    static func plainByByte(_ w: UInt64) -> Bool {
        (0..<8).allSatisfy { k in
            let b = UInt8(truncatingIfNeeded: w >> (8 * UInt64(k)))
            return b >= 0x20 && b < 0x7f && b != 0x22 && b != 0x5c
        }
    }

    @Test func eightBytesAtATimeAgreesWithByteByByte() {
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        // Words built from the bytes around every boundary of the test, and random ones.
        let edges: [UInt8] = [0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x41, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xc3, 0xff]
        for _ in 0..<200_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var w: UInt64 = 0
            for k in 0..<8 {
                let r = state >> UInt64(k * 7) & 0x7f
                // Mostly plain printable bytes, sometimes an edge byte in any position.
                let b = r < 100 ? UInt8(0x20 + r % 0x5f) : edges[Int(r) % edges.count]
                w |= UInt64(b) << UInt64(8 * k)
            }
            #expect(JSONWriter.plain(w) == Self.plainByByte(w), "word \(String(w, radix: 16))")
        }
    }

    @Test func escapedStringsReadBack() throws {
        let texts = ["plain ascii text that is longer than eight bytes",
                     "quote \" and backslash \\ inside a long enough line",
                     "tab\there, bell \u{07} and DEL \u{7f} after eight bytes",
                     "caf\u{e9} na\u{ef}ve \u{2713} \u{1F600} and more ascii after",
                     "12345678\"2345678\\2345678\n"]
        for t in texts {
            var w = JSONWriter()
            w.string(t)
            let back = try JSONSerialization.jsonObject(with: Data(w.bytes), options: [.fragmentsAllowed]) as? String
            #expect(back == t)
        }
        var w = JSONWriter()
        w.stringBytes([0x41, 0x42, 0xff, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49])
        #expect(String(decoding: w.bytes, as: UTF8.self) == #""AB\\xffCDEFGHI""#)
    }

    /// Short strings and tails are tested as one padded word: every byte in every place of a
    /// tail of every length must still be escaped.
    @Test func shortTailsAreEscapedWherever() throws {
        for length in 1...15 {
            for place in 0..<length {
                for special: UInt8 in [0x22, 0x5c, 0x0a, 0x01, 0x7f, 0xff] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[place] = special
                    var w = JSONWriter()
                    w.stringBytes(bytes)
                    let text = String(decoding: w.bytes, as: UTF8.self)
                    #expect(text.utf8.count > length + 2, "\(bytes) written as \(text)")
                    if special != 0xff {
                        let back = try JSONSerialization.jsonObject(with: Data(w.bytes), options: [.fragmentsAllowed]) as? String
                        #expect(back == String(decoding: bytes, as: UTF8.self))
                    }
                }
            }
        }
    }

    /// The writer keeps the text of the last second: timestamps in any order, across seconds,
    /// days and before 1970, must read as they do alone.
    @Test func timestampsAgreeWithTheirOwnText() {
        let times: [Int64] = [0, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789, 1_700_000_000_987_654_321,
                              1_700_000_001_000_000_000, 1_700_000_000_000_001_000, -1, -1_000_000_000, -999_999_999,
                              1_709_251_199_999_999_999, 1_709_251_200_000_000_000, 1_700_000_000_123_456_789]
        var w = JSONWriter()
        w.beginArray()
        var expected = "["
        for (k, n) in times.enumerated() {
            let t = Timestamp(nanoseconds: n)
            w.timestamp(t)
            var text: [UInt8] = []
            t.appendRFC3339(to: &text)
            expected += (k == 0 ? "" : ",") + "\"" + String(decoding: text, as: UTF8.self) + "\""
        }
        w.endArray()
        #expect(String(decoding: w.bytes, as: UTF8.self) == expected + "]")
    }
}
