import Vocabulary

/// TCP header flags (RFC 9293 §3.1).
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
}

/// The TCP options smtpscope keeps (RFC 9293 §3.2, RFC 7323, RFC 2018).
public struct TCPOptions: Hashable, Sendable {
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var timestampValue: UInt32?
    public var timestampEcho: UInt32?
    public init() {}
}

/// IP-layer facts kept for later analysis: who wrote a packet shows in its TTL and IPv4 ID.
public struct IPInfo: Hashable, Sendable {
    public var version: UInt8
    /// IPv4 TTL or IPv6 hop limit.
    public var ttl: UInt8
    /// IPv4 identification field; nil for IPv6.
    public var ipID: UInt16?
    /// True when the segment was rebuilt from IP fragments.
    public var reassembled: Bool
    /// True when the packet was a large-send-offload super-frame: its length was taken from the
    /// frame, not from the IPv4 Total Length (see `PacketDecoder.offloadLength`).
    public var offload: Bool

    public init(version: UInt8, ttl: UInt8, ipID: UInt16?, reassembled: Bool, offload: Bool = false) {
        self.version = version
        self.ttl = ttl
        self.ipID = ipID
        self.reassembled = reassembled
        self.offload = offload
    }
}

/// One decoded TCP segment. `payload` points into the packet buffer and is valid only inside the
/// callback that receives it: copy what you keep.
public struct TCPSegment {
    public var source: Endpoint
    public var destination: Endpoint
    public var seq: UInt32
    public var ack: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var options: TCPOptions
    public var ip: IPInfo
    /// The captured payload bytes.
    public var payload: UnsafeRawBufferPointer
    /// The payload length on the wire (from the IP header); larger than `payload.count` when the
    /// packet was cut by the snapshot length.
    public var wireLength: Int

    public init(
        source: Endpoint, destination: Endpoint, seq: UInt32, ack: UInt32, flags: TCPFlags, window: UInt16,
        options: TCPOptions, ip: IPInfo, payload: UnsafeRawBufferPointer, wireLength: Int
    ) {
        self.source = source
        self.destination = destination
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.options = options
        self.ip = ip
        self.payload = payload
        self.wireLength = wireLength
    }
}

/// What happened to one packet.
public enum PacketOutcome: Sendable, Equatable {
    case tcp
    /// An IP fragment was stored; the datagram is not complete yet.
    case fragmentHeld
    case notIP
    case notTCP
    /// Headers cut short by the snapshot length or malformed; `reason` names which.
    case malformed(String)
}

/// Counters over all packets of a run.
public struct PacketStats: Sendable, Equatable {
    public var packets = 0
    public var tcp = 0
    public var notIP = 0
    public var notTCP = 0
    public var malformed = 0
    /// Packets whose captured length is shorter than their length on the wire.
    public var truncated = 0
    public var fragments = 0
    public var reassembledDatagrams = 0
    /// IPv4 large-send-offload super-frames, read with the frame's length (see
    /// `PacketDecoder.offloadLength`).
    public var offloadFrames = 0
    public init() {}
}
