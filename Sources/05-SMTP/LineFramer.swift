#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cuts one direction's bytes into lines at LF, across any segmentation, keeping at most `limit`
/// bytes of a line that spans inputs. The same framer serves commands and replies.
///
/// A line that lies whole in one input is handed out in place, never copied; only a line split
/// across inputs is gathered here. What a line means is for the decoder: the framer strips
/// nothing but the LF.
struct LineFramer {
    /// The longest partial line kept; the rest of a longer one is discarded up to its LF.
    let limit: Int
    /// The start of a line whose end has not come yet.
    private(set) var partial: [UInt8] = []
    /// The current line is being dropped up to its LF (cut at the limit, or begun in a gap).
    private(set) var discarding = false
    /// A gap came: the next bytes may be the middle of a line or the start of one. Its first
    /// bytes are gathered (`lineStart`) until the decoder can tell (`realign`).
    private(set) var afterGap = false

    init(limit: Int) { self.limit = limit }

    /// What the next call to `next` found.
    enum Framed {
        /// No LF in the rest of the input: its bytes were kept for the line (`cut`: they reached
        /// the limit, and the line's rest will be dropped).
        case incomplete(cut: Bool)
        /// A whole line within the input, LF removed.
        case line(UnsafeRawBufferPointer)
        /// A line completed from kept bytes: take it with `takeLine()` (`cut` as above).
        case joined(cut: Bool)
        /// The LF of a line being dropped: nothing to read.
        case skipped
    }

    /// No partial line is kept.
    var isEmpty: Bool { partial.isEmpty }

    /// Frames the next line out of `rest` (not empty), and leaves the bytes after its LF there.
    @inline(__always)
    mutating func next(_ rest: inout UnsafeRawBufferPointer) -> Framed {
        let base = rest.baseAddress!
        guard let lf = memchr(base, 0x0a, rest.count) else {
            let cut = keep(rest)
            rest = UnsafeRawBufferPointer(start: nil, count: 0)
            return .incomplete(cut: cut)
        }
        let n = UnsafeRawPointer(lf) - base
        let piece = UnsafeRawBufferPointer(rebasing: rest[..<n])
        rest = UnsafeRawBufferPointer(rebasing: rest[(n + 1)...])
        if discarding {
            discarding = false
            partial.removeAll(keepingCapacity: true)
            return .skipped
        }
        if partial.isEmpty { return .line(piece) }
        let cut = keep(piece)
        discarding = false
        return .joined(cut: cut)
    }

    /// The line gathered for `.joined` (or, at the end of the stream, the partial line); the
    /// framer is then empty.
    mutating func takeLine() -> [UInt8] {
        defer { partial.removeAll(keepingCapacity: true) }
        return partial
    }

    /// Bytes were lost in a gap: the partial line is dropped, and the next line is read only if
    /// its start says it is one (`lineStart`, `realign`).
    mutating func gap() {
        partial.removeAll(keepingCapacity: true)
        discarding = false
        afterGap = true
    }

    /// The bytes up to the next LF are not a line (they belong to one begun in a gap).
    mutating func skipToLineEnd() { discarding = true }

    /// After a gap: the first `count` bytes of the line that follows (fewer when its LF comes
    /// sooner, the LF included), once that many are known, however the bytes were cut; nil while
    /// fewer are known (the bytes of `rest` were gathered).
    mutating func lineStart(_ rest: inout UnsafeRawBufferPointer, count: Int) -> [UInt8]? {
        let need = count - partial.count
        guard need > 0 else { return Array(partial.prefix(count)) }
        let window = UnsafeRawBufferPointer(rebasing: rest[..<min(rest.count, need)])
        if let lf = window.firstIndex(of: 0x0a) { return partial + window[...lf] }
        if window.count == need { return partial + window }
        partial.append(contentsOf: rest)
        rest = UnsafeRawBufferPointer(start: nil, count: 0)
        return nil
    }

    /// Ends the wait after a gap: the line whose start was gathered is read when `startsLine`
    /// (as the decoder judges that start), dropped up to its LF otherwise.
    mutating func realign(startsLine: Bool) {
        afterGap = false
        if !startsLine {
            partial.removeAll(keepingCapacity: true)
            discarding = true
        }
    }

    /// Adds bytes to the partial line, up to the limit; true when they crossed it.
    private mutating func keep(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !discarding else { return false }
        let room = limit - partial.count
        if bytes.count > room {
            partial.append(contentsOf: bytes.prefix(max(room, 0)))
            discarding = true
            return true
        }
        partial.append(contentsOf: bytes)
        return false
    }
}
