import CPcap
import ScopeCore

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
}

/// An offline capture file (pcap or pcapng, any byte order, micro- or nanosecond timestamps) read
/// through libpcap. `-` reads standard input. This file and `LiveCapture` are the only callers of
/// libpcap.
public final class PcapFile {
    public let path: String
    public let index: Int
    /// DLT value libpcap reports for the file.
    public let dlt: Int32
    public let dltName: String
    private let handle: OpaquePointer
    private var interfaces: PcapngInterfaceWalker?
    private static let readBufferSize = 1 << 16
    /// stdio's buffer for the file; it must outlive the FILE, which libpcap closes.
    private let readBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: readBufferSize)

    public init(path: String, index: Int) throws(CaptureError) {
        self.path = path
        self.index = index
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        let opened: OpaquePointer?
        if path == "-" {
            opened = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
        } else {
            // Our own FILE with a 64 KiB buffer: stdio's default (the block size, 4 KiB) costs a
            // read(2) per few packets, and a buffer larger than the L2 cache makes the kernel's
            // copy and libpcap's copy out of it miss (measured: 1 MiB doubles the system time).
            // glibc ignores the size unless it is given the buffer too. libpcap closes the FILE
            // with the handle.
            guard let file = fopen(path, "rb") else {
                readBuffer.deallocate()
                throw CaptureError.fromLibpcap(file: path, String(cString: strerror(errno)))
            }
            setvbuf(file, readBuffer, _IOFBF, Self.readBufferSize)
            #if canImport(Glibc)
            // One thread at a time reads a capture: stdio need not lock the FILE around each of
            // libpcap's two reads per packet.
            __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
            #endif
            opened = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
            if opened == nil { fclose(file) }
        }
        guard let h = opened else {
            readBuffer.deallocate()
            throw CaptureError.fromLibpcap(file: path, Self.cString(errbuf))
        }
        handle = h
        dlt = pcap_datalink(h)
        dltName = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
        if path != "-" { interfaces = PcapngInterfaceWalker(path: path) }
    }

    deinit {
        pcap_close(handle)
        readBuffer.deallocate()
    }


    /// Reads the next packet. Returns nil at the end of the file; throws when the file is damaged
    /// (packets already returned stay valid results).
    public func next() throws(CaptureError) -> RawPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let rc = pcap_next_ex(handle, &header, &data)
        switch rc {
        case 1:
            guard let h = header?.pointee, let d = data else { return nil }
            let caplen = Int(h.caplen)
            let time = Timestamp(seconds: Int64(h.ts.tv_sec), nanoseconds: Int64(h.ts.tv_usec))
            let iface = interfaces?.nextPacketInterface() ?? 0
            return RawPacket(
                time: time, bytes: UnsafeRawBufferPointer(start: d, count: caplen),
                wireLength: max(Int(h.len), caplen), vantage: Vantage(file: index, interface: iface))
        case -2:
            return nil
        default:
            throw CaptureError.fromLibpcap(file: path, String(cString: pcap_geterr(handle)))
        }
    }
}
