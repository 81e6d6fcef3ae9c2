/// The link-layer header types smtpscope decodes, by the DLT value libpcap reports
/// (`pcap_datalink`). libpcap maps a file's LINKTYPE_ value to the platform's DLT_ value, so both
/// numbering schemes of raw IP are accepted.
public enum LinkType: Sendable, Hashable {
    /// DLT_NULL (0): BSD loopback, 4-byte address family in the writer's byte order.
    case null
    /// DLT_EN10MB (1): Ethernet II, with 802.1Q / 802.1ad tags.
    case ethernet
    /// DLT_RAW (12, 14 on OpenBSD; LINKTYPE_RAW 101), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229).
    case raw
    /// DLT_LOOP (108): like NULL, but the family is in network byte order.
    case loop
    /// DLT_LINUX_SLL (113): Linux cooked capture v1, 16-byte header (`tcpdump -i any`, older).
    case linuxSLL
    /// DLT_LINUX_SLL2 (276): Linux cooked capture v2, 20-byte header (`tcpdump -i any`).
    case linuxSLL2

    public init?(dlt: Int32) {
        switch dlt {
        case 0: self = .null
        case 1: self = .ethernet
        case 12, 14, 101, 228, 229: self = .raw
        case 108: self = .loop
        case 113: self = .linuxSLL
        case 276: self = .linuxSLL2
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .null: return "NULL"
        case .ethernet: return "EN10MB"
        case .raw: return "RAW"
        case .loop: return "LOOP"
        case .linuxSLL: return "LINUX_SLL"
        case .linuxSLL2: return "LINUX_SLL2"
        }
    }
}
