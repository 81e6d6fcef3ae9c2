import Vocabulary

/// Which packets of the capture files are read, decided packet by packet before anything else
/// sees them: a BPF filter in tcpdump's syntax (compiled by libpcap for each file's own link type,
/// as `tcpdump -r FILE EXPR` does) and a time window (as `editcap -A START -B STOP` cuts: packets
/// before `since` or at or after `until` are left out). A session cut by the window is reported
/// with what is left of it, as from a capture that started or stopped at those times.
public struct PacketSelection: Sendable, Equatable {
    /// tcpdump filter expression; nil reads every packet.
    public var filter: String?
    /// Packets earlier than this are left out.
    public var since: Timestamp?
    /// Packets at this time or later are left out.
    public var until: Timestamp?

    public init(filter: String? = nil, since: Timestamp? = nil, until: Timestamp? = nil) {
        self.filter = filter
        self.since = since
        self.until = until
    }

    /// Every packet is read: nothing to check per packet.
    public var isEverything: Bool { filter == nil && since == nil && until == nil }

    /// The packet time lies in the window.
    @inlinable
    public func contains(_ time: Timestamp) -> Bool {
        if let since, time < since { return false }
        if let until, !(time < until) { return false }
        return true
    }
}
