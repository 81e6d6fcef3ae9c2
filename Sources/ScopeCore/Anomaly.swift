/// Something unusual in the traffic: recorded, never thrown. Decoding goes on.
///
/// `name` is a stable kebab-case identifier (listed in docs/output.md) that tests and
/// users can rely on; `detail` is free text for people.
public struct Anomaly: Hashable, Sendable {
    public var name: String
    public var detail: String
    public var time: Timestamp?

    public init(_ name: String, _ detail: String = "", at time: Timestamp? = nil) {
        self.name = name
        self.detail = detail
        self.time = time
    }
}

/// Which way bytes travel on a connection.
public enum Direction: UInt8, Hashable, Sendable {
    case toServer = 0
    case toClient = 1

    @inlinable public var reversed: Direction { self == .toServer ? .toClient : .toServer }
}

/// Where a packet was seen: which input file (vantage point) and, for pcapng, which interface.
public struct Vantage: Hashable, Sendable, Comparable {
    public var file: Int
    public var interface: Int

    public init(file: Int, interface: Int = 0) {
        self.file = file
        self.interface = interface
    }

    public static func < (a: Vantage, b: Vantage) -> Bool { (a.file, a.interface) < (b.file, b.interface) }
}
