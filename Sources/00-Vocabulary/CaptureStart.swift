import Synchronization

/// The time of the first packet a run read, written once by the packet stage and read by the
/// text writer on another thread (relative times, as `tshark -t r`). Every record reaches the
/// writer after the packet that began it, through the stages' hand-overs, so the writer never
/// finds it unset once there is something to write.
public final class CaptureStart: Sendable {
    private let nanoseconds = Atomic<Int64>(Int64.min)
    public init() {}

    /// Keeps the first time given; later calls do nothing.
    public func note(_ t: Timestamp) {
        _ = nanoseconds.compareExchange(expected: Int64.min, desired: t.nanoseconds, ordering: .relaxed)
    }

    public var time: Timestamp? {
        let v = nanoseconds.load(ordering: .relaxed)
        return v == Int64.min ? nil : Timestamp(nanoseconds: v)
    }
}
