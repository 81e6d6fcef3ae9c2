import CPcap
import CZlib
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of one input, read once and in order: a file or standard input, gunzipped on the way
/// when it starts with gzip's magic bytes (1f 8b), whatever its name. libpcap reads them through a
/// stdio FILE made from this object (`makeFile`), and every byte it is given also passes through
/// the pcapng block walker, so that no input has to be opened twice (standard input cannot be).
final class CaptureInput {
    /// What went wrong while reading, in smtpscope's wording; once set, every read fails.
    private(set) var failure: String?
    /// The interface index of each pcapng packet block, in the order libpcap returns the packets.
    let interfaces = PcapngInterfaceWalker()
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// Bytes read ahead of the caller: the sniff for gzip's magic, then compressed input.
    private static let inputSize = 1 << 16
    private let input: UnsafeMutablePointer<UInt8>
    private var inputStart = 0
    private var inputEnd = 0
    private var inputEnded = false
    /// zlib's state for a gzip-compressed input (allocated: zlib keeps a pointer back to it).
    private var stream: UnsafeMutablePointer<z_stream>?
    /// The last gzip member ended; more input may begin another one (as `cat a.gz b.gz` makes).
    private var memberEnded = false
    private var closed = false

    /// The input began with gzip's magic bytes.
    private(set) var isCompressed = false
    /// Bytes taken from the descriptor (compressed ones for a gzip input): written by the thread
    /// that reads, read by the progress line's.
    private let consumed = Atomic<Int>(0)
    var bytesRead: Int { consumed.load(ordering: .relaxed) }
    /// The size of a regular file; nil for standard input, a pipe or a device.
    private(set) var size: Int?

    /// Opens `path` (`-` is standard input) and looks at its first bytes.
    init(path: String) throws(CaptureError) {
        if path == "-" {
            fd = 0
        } else {
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { throw CaptureError.fromLibpcap(file: path, String(cString: strerror(errno))) }
            fd = opened
        }
        ownsDescriptor = path != "-"
        input = .allocate(capacity: Self.inputSize)
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { size = Int(st.st_size) }
        // Every stored property is set: from here on a throw runs deinit, which releases them.
        // Two bytes tell gzip; a pipe may deliver them in separate reads.
        while inputEnd < 2, !inputEnded {
            let n = Glibc.read(fd, input + inputEnd, Self.inputSize - inputEnd)
            if n > 0 {
                inputEnd += n
                consumed.add(n, ordering: .relaxed)
            } else if n == 0 {
                inputEnded = true
            } else if errno != EINTR {
                throw CaptureError.fromLibpcap(file: path, String(cString: strerror(errno)))
            }
        }
        if inputEnd >= 2, input[0] == 0x1f, input[1] == 0x8b {
            let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            s.initialize(to: z_stream())
            // 16 + 15: a gzip wrapper (not zlib's own), the largest window.
            guard inflateInit2_(s, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                s.deallocate()
                throw CaptureError(file: path, problem: "cannot start gzip decompression (out of memory)")
            }
            stream = s
            isCompressed = true
        }
    }

    deinit {
        close()
        input.deallocate()
    }

    /// Releases the descriptor and zlib's memory; reads after it fail.
    func close() {
        guard !closed else { return }
        closed = true
        if ownsDescriptor { _ = Glibc.close(fd) }
        if let s = stream {
            inflateEnd(s)
            s.deallocate()
            stream = nil
        }
    }

    /// Fills up to `count` bytes at `buffer`: the number given, 0 at the end, -1 on failure (see
    /// `failure`). Bytes delivered before a failure stay delivered.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        if failure != nil || closed { return -1 }
        let n = stream == nil ? readPlain(into: buffer, count: count) : inflate(into: buffer, count: count)
        if n > 0 { interfaces.consume(UnsafeRawBufferPointer(start: buffer, count: n)) }
        return n
    }

    private func readPlain(into buffer: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        if inputStart < inputEnd {
            let n = min(count, inputEnd - inputStart)
            buffer.update(from: input + inputStart, count: n)
            inputStart += n
            return n
        }
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n > 0 { consumed.add(n, ordering: .relaxed) }
            if n >= 0 { return n }
            if errno != EINTR { return fail("read error: \(String(cString: strerror(errno)))") }
        }
    }

    /// Reads more compressed input; false at its end (or on a read error, then `failure` is set).
    private func refill() -> Bool {
        guard !inputEnded else { return false }
        while true {
            let n = Glibc.read(fd, input, Self.inputSize)
            if n > 0 {
                consumed.add(n, ordering: .relaxed)
                inputStart = 0
                inputEnd = n
                return true
            }
            if n == 0 {
                inputEnded = true
                return false
            }
            if errno != EINTR {
                _ = fail("read error: \(String(cString: strerror(errno)))")
                return false
            }
        }
    }

    private func inflate(into buffer: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        guard let s = stream else { return -1 }
        var produced = 0
        while produced < count {
            if inputStart == inputEnd {
                if !refill() {
                    if failure != nil { return produced > 0 ? produced : -1 }
                    // The end of the input: clean only between members.
                    if memberEnded { return produced }
                    let f = fail("file is cut short (the gzip data ends before the end of its stream)")
                    return produced > 0 ? produced : f
                }
            }
            if memberEnded {
                // Another member must follow; anything else is not gzip data.
                if input[inputStart] != 0x1f || (inputEnd - inputStart >= 2 && input[inputStart + 1] != 0x8b) {
                    let f = fail("damaged gzip data (bytes that are not gzip after the end of the compressed stream)")
                    return produced > 0 ? produced : f
                }
                inflateReset(s)
                memberEnded = false
            }
            s.pointee.next_in = input + inputStart
            s.pointee.avail_in = UInt32(inputEnd - inputStart)
            s.pointee.next_out = buffer + produced
            s.pointee.avail_out = UInt32(min(count - produced, Int(UInt32.max)))
            let before = Int(s.pointee.avail_out)
            let rc = CZlib.inflate(s, Z_NO_FLUSH)
            produced += before - Int(s.pointee.avail_out)
            inputStart = inputEnd - Int(s.pointee.avail_in)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                // Z_BUF_ERROR: no progress possible until more input comes; the loop reads it.
                if produced > 0, inputStart == inputEnd { return produced }
            case Z_STREAM_END:
                memberEnded = true
            default:
                let detail = s.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                let f = fail("damaged gzip data (\(detail))")
                return produced > 0 ? produced : f
            }
        }
        return produced
    }

    private func fail(_ problem: String) -> Int {
        if failure == nil { failure = problem }
        errno = EIO
        return -1
    }

    /// A read-only stdio FILE over this input with `buffer` (of `size` bytes) as stdio's buffer;
    /// closing the FILE closes the input and releases the reference the FILE holds.
    func makeFile(buffer: UnsafeMutablePointer<CChar>, size: Int) -> UnsafeMutablePointer<FILE>? {
        var functions = smtpscope_cookie_io_functions()
        functions.read = { cookie, buffer, size in
            guard let cookie, let buffer else { return -1 }
            let input = Unmanaged<CaptureInput>.fromOpaque(cookie).takeUnretainedValue()
            return input.read(into: UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: size)
        }
        functions.close = { cookie in
            guard let cookie else { return 0 }
            let reference = Unmanaged<CaptureInput>.fromOpaque(cookie)
            reference.takeUnretainedValue().close()
            reference.release()
            return 0
        }
        let cookie = Unmanaged.passRetained(self)
        guard let file = smtpscope_fopencookie(cookie.toOpaque(), "r", functions) else {
            cookie.release()
            return nil
        }
        // A 64 KiB buffer: stdio's default costs a read(2) per few packets, and a buffer larger than
        // the L2 cache makes the kernel's copy and libpcap's copy out of it miss (measured: 1 MiB
        // doubles the system time).
        setvbuf(file, buffer, _IOFBF, size)
        #if canImport(Glibc)
        // One thread at a time reads a capture: stdio need not lock the FILE around each of
        // libpcap's two reads per packet.
        __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
        #endif
        return file
    }
}
