import CPcap
import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A live capture on an interface through libpcap: the kernel's block ring (TPACKET_V3), a snapshot length that keeps whole segments, a BPF filter, and an optional pcap file
/// that keeps every captured packet as evidence.
public final class LiveCapture {
    public let interface: String
    public let dlt: Int32
    public let dltName: String
    private let handle: OpaquePointer
    private var dumper: OpaquePointer?
    private var selectable: Int32 = -1

    /// The kernel ring's size (tcpdump -B 32768 is 32 MiB): at 3 Gbit/s it holds about 0.2 s of
    /// traffic while the analysis catches up.
    public static let defaultBufferSize = 64 << 20

    /// What a read gave.
    public enum Next {
        case packet(RawPacket)
        /// Nothing arrived within the read timeout (the caller checks its clocks and signals).
        case timeout
    }

    public init(interface: String, filter: String, snaplen: Int32 = 262_144, promiscuous: Bool = false, bufferSize: Int = LiveCapture.defaultBufferSize, writeTo path: String? = nil) throws(CaptureError) {
        self.interface = interface
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_create(interface, &errbuf) else {
            throw CaptureError(file: interface, problem: PcapFile.cString(errbuf))
        }
        // The handle belongs to this initializer until its last line, where the object takes it
        // over, and every failure before that closes it here, once. (Stored properties are set
        // only then: once they all are, a throw would run deinit, which closes the handle too.)
        var handedOver = false
        defer { if !handedOver { pcap_close(h) } }
        pcap_set_snaplen(h, snaplen)
        pcap_set_promisc(h, promiscuous ? 1 : 0)
        // Not immediate mode: on Linux that gives the TPACKET_V2 ring, one fixed slot per packet
        // sized for the snapshot length (256 KiB), so 32 MiB held 128 packets and a burst of small
        // segments overran it. Without it libpcap uses TPACKET_V3, whose blocks pack packets
        // tightly and are handed over when full or after the timeout: one wake-up per block, not
        // per packet, and at most 100 ms of delay.
        pcap_set_immediate_mode(h, 0)
        pcap_set_timeout(h, 100)
        pcap_set_buffer_size(h, Int32(bufferSize))
        let rc = pcap_activate(h)
        if rc < 0 {
            switch rc {
            case PCAP_ERROR_PERM_DENIED:
                throw CaptureError(file: interface, problem: "permission denied: capturing needs root or the CAP_NET_RAW capability (e.g. sudo setcap cap_net_raw,cap_net_admin=eip smtpscope)")
            case PCAP_ERROR_NO_SUCH_DEVICE:
                throw CaptureError(file: interface, problem: "no such interface (smtpscope live --list-interfaces shows them)")
            default:
                throw CaptureError(file: interface, problem: Self.oneLine(String(cString: pcap_geterr(h))))
            }
        }
        let dlt = pcap_datalink(h)
        var program = bpf_program()
        if pcap_compile(h, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw CaptureError(file: "capture filter \"\(filter)\"", problem: Self.oneLine(String(cString: pcap_geterr(h))), isUsageError: true)
        }
        defer { pcap_freecode(&program) }
        if pcap_setfilter(h, &program) != 0 {
            throw CaptureError(file: interface, problem: "capture filter: \(Self.oneLine(String(cString: pcap_geterr(h))))")
        }
        // Non-blocking reads and our own poll(): a signal or the timeout always returns control
        // (a blocking read would wait for a whole block).
        pcap_setnonblock(h, 1, &errbuf)
        var dumper: OpaquePointer?
        if let path {
            guard let d = pcap_dump_open(h, path) else {
                var message = String(cString: pcap_geterr(h))
                if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }
                throw CaptureError(file: path, problem: "cannot be written (\(Self.oneLine(message)))")
            }
            dumper = d
        }
        // Nothing fails after this point.
        self.dlt = dlt
        dltName = pcap_datalink_val_to_name(dlt).map { String(cString: $0) } ?? "unknown"
        selectable = pcap_get_selectable_fd(h)
        self.dumper = dumper
        handle = h
        handedOver = true
    }

    /// libpcap's messages on one line (a filter error can quote a newline from the expression).
    private static func oneLine(_ s: String) -> String {
        String(s.map { $0.isNewline ? " " : $0 })
    }

    deinit {
        if let dumper {
            pcap_dump_flush(dumper)
            pcap_dump_close(dumper)
        }
        pcap_close(handle)
    }

    /// Waits up to 100 ms for a packet (less when a signal arrives). The packet's bytes are valid
    /// until the next call.
    public func next() throws(CaptureError) -> Next {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        var rc = pcap_next_ex(handle, &header, &data)
        if rc == 0, selectable >= 0 {
            var p = pollfd(fd: selectable, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 { rc = pcap_next_ex(handle, &header, &data) }
        }
        switch rc {
        case 1:
            guard let hp = header, let d = data else { return .timeout }
            if let dumper { pcap_dump(UnsafeMutablePointer(dumper), hp, d) }
            let h = hp.pointee
            let caplen = Int(h.caplen)
            return .packet(RawPacket(
                time: Timestamp(seconds: Int64(h.ts.tv_sec), nanoseconds: Int64(h.ts.tv_usec) * 1000),
                bytes: UnsafeRawBufferPointer(start: d, count: caplen), wireLength: max(Int(h.len), caplen),
                vantage: Vantage(file: 0)))
        case 0:
            return .timeout
        default:
            throw CaptureError(file: interface, problem: String(cString: pcap_geterr(handle)))
        }
    }

    /// Writes buffered evidence packets to the file.
    public func flushDump() {
        if let dumper { pcap_dump_flush(dumper) }
    }

    /// Joins the kernel's fanout group `group` (Linux PACKET_FANOUT, hashed by flow): the handles
    /// of one group share the interface's packets, every packet of a TCP connection, both
    /// directions, going to the same handle (the kernel's flow hash orders the two endpoints).
    /// IP fragments are put together first so that they follow their flow.
    public func joinFanout(group: UInt16) throws(CaptureError) {
        #if os(Linux)
        let packetFanout: Int32 = 18, fanoutHash: UInt32 = 0, flagDefrag: UInt32 = 0x8000
        var arg = UInt32(group) | ((fanoutHash | flagDefrag) << 16)
        if setsockopt(pcap_fileno(handle), 263 /* SOL_PACKET */, packetFanout, &arg, socklen_t(MemoryLayout<UInt32>.size)) != 0 {
            throw CaptureError(file: interface, problem: "cannot share the capture between workers (PACKET_FANOUT): \(String(cString: strerror(errno)))")
        }
        #else
        throw CaptureError(file: interface, problem: "several capture workers need Linux (PACKET_FANOUT)", isUsageError: true)
        #endif
    }

    /// libpcap's counters: packets received, dropped by the kernel (buffer full), dropped by the interface.
    public func statistics() -> (received: UInt32, dropped: UInt32, interfaceDropped: UInt32)? {
        var s = pcap_stat()
        guard pcap_stats(handle, &s) == 0 else { return nil }
        return (s.ps_recv, s.ps_drop, s.ps_ifdrop)
    }

    /// The interfaces libpcap can capture on, with their descriptions.
    public static func interfaces() throws(CaptureError) -> [(name: String, description: String?)] {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errbuf) == 0 else {
            throw CaptureError(file: "interfaces", problem: PcapFile.cString(errbuf))
        }
        defer { pcap_freealldevs(list) }
        var out: [(String, String?)] = []
        var p = list
        while let i = p {
            out.append((String(cString: i.pointee.name), i.pointee.description.map { String(cString: $0) }))
            p = i.pointee.next
        }
        return out
    }
}
