#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams DATA content (RFC 5321 §4.1.1.4, §4.5.2): finds the `CRLF.CRLF` end across any
/// segmentation, removes dot-stuffing from the size count, and collects the top-level header block
/// (bounded) — in one pass, with `memchr` doing the scanning between line starts.
struct BodyScanner {
    /// Where the scanner stands relative to line boundaries.
    enum State {
        /// At the start of a line (the message start or just after LF).
        case lineStart
        /// A `.` at the start of a line.
        case dot
        /// `.` CR at the start of a line.
        case dotCR
        /// Inside a line.
        case inLine
    }

    var state = State.lineStart
    /// DATA content is dot-stuffed and ends with `.CRLF`; BDAT content is neither.
    var dotStuffed = true
    /// Octets after un-stuffing, terminator excluded.
    var size = 0
    var inHeaders = true
    /// Length of the current line's content while in the header block (to spot the blank line).
    var headerLineLength = 0
    var headers: HeaderCollector
    var bareLineFeeds = 0
    var sawCR = false
    /// Whether the content has a byte above 127 (RFC 6152: needs BODY=8BITMIME).
    var eightBit = false
    var endedWithBareLF = false
    /// The content's bytes and parts, when asked for: given every octet of the message
    /// (dot-unstuffed), in order. Nil on the normal path, which then costs nothing more.
    var content: ContentSink?

    init(headerLimit: Int) { headers = HeaderCollector(limit: headerLimit) }

    /// Consumes message bytes; returns how many were consumed when the end-of-data line was found
    /// (the terminator included), or nil when all bytes belong to the message.
    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let consumed = lines(bytes)
        // One pass over the message's part of the bytes, until the first 8-bit byte.
        if !eightBit { eightBit = Self.hasHighBit(UnsafeRawBufferPointer(rebasing: bytes[..<(consumed ?? bytes.count)])) }
        return consumed
    }

    private mutating func lines(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return nil }
        var i = 0
        while i < n {
            switch state {
            case .lineStart:
                if bytes[i] == UInt8(ascii: "."), dotStuffed {
                    state = .dot
                    i += 1
                } else {
                    state = .inLine
                }
            case .dot:
                let b = bytes[i]
                if b == 0x0d {
                    state = .dotCR
                    i += 1
                } else if b == 0x0a {
                    endedWithBareLF = true
                    return i + 1
                } else {
                    // A stuffed dot: removed, not counted.
                    state = .inLine
                }
            case .dotCR:
                if bytes[i] == 0x0a { return i + 1 }
                // `.` CR then something else: the dot was stuffing; the CR is content.
                if content != nil { Self.cr.withUnsafeBytes { content?.append($0) } }
                size += 1
                if inHeaders { headerLineLength += 1 }
                state = .inLine
            case .inLine where inHeaders:
                let found = memchr(base + i, 0x0a, n - i)
                let end = found.map { UnsafeRawPointer($0) - base + 1 } ?? n
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[i..<end])
                content?.append(chunk)
                size += chunk.count
                headerBytes(chunk, lineEnds: found != nil)
                if found != nil {
                    let crBefore = end - i >= 2 ? bytes[end - 2] == 0x0d : sawCR
                    if !crBefore { bareLineFeeds += 1 }
                    state = .lineStart
                }
                sawCR = chunk.last == 0x0d
                i = end
            case .inLine:
                // The body, line after line, until a line starts with a dot or the bytes end
                // (i < n on entry: the loop reads bytes before and after each LF it finds).
                let start = i
                let p = base.assumingMemoryBound(to: UInt8.self)
                let stuffed = dotStuffed
                var bare = 0
                var crCarried = sawCR
                while true {
                    guard let found = memchr(p + i, 0x0a, n - i) else {
                        crCarried = p[n - 1] == 0x0d
                        i = n
                        break
                    }
                    let lf = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - p
                    if lf > i ? p[lf - 1] != 0x0d : !crCarried { bare += 1 }
                    crCarried = false
                    i = lf + 1
                    if i == n || (stuffed && p[i] == UInt8(ascii: ".")) {
                        state = .lineStart
                        break
                    }
                }
                sawCR = crCarried
                bareLineFeeds += bare
                size += i - start
                if content != nil { content?.append(UnsafeRawBufferPointer(rebasing: bytes[start..<i])) }
            }
        }
        return nil
    }

    /// Whether any byte has its high bit set, 32 bytes at a time (checked only until the first
    /// 8-bit byte of a message is found).
    static func hasHighBit(_ chunk: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        var a0: UInt64 = 0, a1: UInt64 = 0, a2: UInt64 = 0, a3: UInt64 = 0
        while i + 32 <= chunk.count {
            a0 |= chunk.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            a1 |= chunk.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
            a2 |= chunk.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
            a3 |= chunk.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
            i += 32
        }
        var acc = a0 | a1 | a2 | a3
        while i + 8 <= chunk.count {
            acc |= chunk.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < chunk.count {
            acc |= UInt64(chunk[i])
            i += 1
        }
        return acc & 0x8080_8080_8080_8080 != 0
    }

    private mutating func headerBytes(_ chunk: UnsafeRawBufferPointer, lineEnds: Bool) {
        headers.append(chunk)
        var content = chunk.count
        if lineEnds {
            content -= 1
            if chunk.count >= 2, chunk[chunk.count - 2] == 0x0d { content -= 1 }
        }
        headerLineLength += content
        if lineEnds {
            // A blank line (a lone CR counts as blank: CR LF split across chunks) ends the header block.
            if headerLineLength <= 0 || (headerLineLength == 1 && chunk.count == 1 && sawCR) {
                inHeaders = false
            }
            headerLineLength = 0
        }
    }

    private static let cr: [UInt8] = [0x0d]

    /// Accounts for content bytes the capture did not have (a gap inside the message).
    mutating func skip(_ length: Int) {
        content?.gap(length)
        size += length
        state = .inLine
        if inHeaders {
            inHeaders = false
            headers.cutByGap = true
        }
    }
}
