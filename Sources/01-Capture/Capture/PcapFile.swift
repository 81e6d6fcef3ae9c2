import CPcap
import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension PcapFile {
    /// A NUL-terminated C buffer as a String.
    static func cString(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One packet as read from a capture. `bytes` is valid only until the next read from the same
/// file: copy what you keep.
public struct RawPacket {
    public var time: Timestamp
    public var bytes: UnsafeRawBufferPointer
    /// The packet's length on the wire; larger than `bytes.count` when the snapshot length cut it.
    public var wireLength: Int
    public var vantage: Vantage

    public init(time: Timestamp, bytes: UnsafeRawBufferPointer, wireLength: Int, vantage: Vantage) {
        self.time = time
        self.bytes = bytes
        self.wireLength = wireLength
        self.vantage = vantage
    }
}

/// An offline capture file (pcap or pcapng, any byte order, micro- or nanosecond timestamps, plain
/// or gzip-compressed) read through libpcap. `-` reads standard input, exactly as a file. This file
/// and `LiveCapture` are the only callers of libpcap.
public final class PcapFile {
    public let path: String
    public let index: Int
    /// DLT value libpcap reports for the file.
    public let dlt: Int32
    public let dltName: String
    private let handle: OpaquePointer
    /// The bytes libpcap reads, and each packet's pcapng interface.
    private let input: CaptureInput
    private static let readBufferSize = 1 << 16
    /// stdio's buffer for the file; it must outlive the FILE, which libpcap closes.
    private let readBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: readBufferSize)
    /// The packets read (`PacketSelection`); `program` its filter compiled for this file's link
    /// type, applied here rather than by libpcap (`pcap_setfilter` would skip packets unseen,
    /// and each packet's pcapng interface must still be taken from the walker).
    private let selection: PacketSelection
    private var program = bpf_program()
    private var filtered = false

    /// Bytes of the file (before decompression) read so far; updated by the reading thread, read
    /// by any (the progress line).
    public var bytesRead: Int { input.bytesRead }
    /// The file's size, when it is a regular file (not standard input or a pipe).
    public var size: Int? { input.size }

    /// Opens the file. A filter in `selection` that does not compile for the file's link type
    /// throws a usage error with libpcap's message.
    public init(path: String, index: Int, selection: PacketSelection = PacketSelection()) throws(CaptureError) {
        self.path = path
        self.index = index
        let input: CaptureInput
        do {
            input = try CaptureInput(path: path)
        } catch {
            readBuffer.deallocate()
            throw error
        }
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        // One FILE for files, standard input and compressed data alike; libpcap closes it with the
        // handle (and so the input), or leaves it to us when it cannot read the start.
        guard let file = input.makeFile(buffer: readBuffer, size: Self.readBufferSize) else {
            readBuffer.deallocate()
            throw CaptureError(file: path, problem: "cannot be read (\(String(cString: strerror(errno))))")
        }
        guard let h = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            fclose(file)
            readBuffer.deallocate()
            if let failure = input.failure { throw CaptureError(file: path, problem: failure) }
            let e = CaptureError.fromLibpcap(file: path, Self.cString(errbuf))
            if input.isCompressed, e.problem.hasPrefix("not a capture file") {
                throw CaptureError(file: path, problem: "not a capture file once uncompressed (neither pcap nor pcapng)")
            }
            throw e
        }
        handle = h
        self.input = input
        self.selection = selection
        dlt = pcap_datalink(h)
        dltName = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
        if let expression = selection.filter {
            // Optimised, and netmask 0 as tcpdump -r uses (a file has no local network).
            guard pcap_compile(h, &program, expression, 1, 0) == 0 else {
                let message = String(String(cString: pcap_geterr(h)).map { $0.isNewline ? " " : $0 })
                throw CaptureError(file: "filter \"\(expression)\"", problem: message, isUsageError: true)
            }
            filtered = true
        }
    }

    /// Receives the file's Decryption Secrets Blocks (pcapng): secrets type and data.
    public var onSecrets: ((UInt32, [UInt8]) -> Void)? {
        get { input.interfaces.onSecrets }
        set { input.interfaces.onSecrets = newValue }
    }

    deinit {
        if filtered { pcap_freecode(&program) }
        pcap_close(handle)
        readBuffer.deallocate()
    }

    /// Reads the next packet. Returns nil at the end of the file; throws when the file is damaged
    /// (packets already returned stay valid results).
    public func next() throws(CaptureError) -> RawPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
        let rc = pcap_next_ex(handle, &header, &data)
        switch rc {
        case 1:
            guard let hp = header, let d = data else { return nil }
            let h = hp.pointee
            let caplen = Int(h.caplen)
            let time = Timestamp(seconds: Int64(h.ts.tv_sec), nanoseconds: Int64(h.ts.tv_usec))
            // Taken for every packet, selected or not: the walker's queue follows libpcap's.
            let iface = input.interfaces.nextPacketInterface()
            if !selection.contains(time) { continue }
            if filtered, pcap_offline_filter(&program, hp, d) == 0 { continue }
            return RawPacket(
                time: time, bytes: UnsafeRawBufferPointer(start: d, count: caplen),
                wireLength: max(Int(h.len), caplen), vantage: Vantage(file: index, interface: iface))
        case -2:
            // A read failure at a packet boundary looks like the end to libpcap.
            if let failure = input.failure { throw CaptureError(file: path, problem: failure) }
            return nil
        default:
            // Ours is the better account of a failed read (libpcap sees only that fread failed).
            if let failure = input.failure { throw CaptureError(file: path, problem: failure) }
            throw CaptureError.fromLibpcap(file: path, String(cString: pcap_geterr(handle)))
        }
        }
    }
}
