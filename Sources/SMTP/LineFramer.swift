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
    /// A gap came: the next input may begin mid-line (see `realign`).
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

    /// Bytes were lost in a gap: the partial line is dropped, and so are the next bytes up to
    /// an LF unless they start a line (`realign`).
    mutating func gap() {
        partial.removeAll(keepingCapacity: true)
        discarding = true
        afterGap = true
    }

    /// The bytes up to the next LF are not a line (they belong to one begun in a gap).
    mutating func skipToLineEnd() { discarding = true }

    /// First input after a gap: when it starts a line (`startsLine`, as the decoder judges its
    /// content), that line is read rather than dropped.
    mutating func realign(startsLine: Bool) {
        afterGap = false
        if partial.isEmpty, startsLine { discarding = false }
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
