/// Something that takes the report records of a run: the text or JSON writer, and any other
/// output asked for beside it (files, other tools' formats). Each sink gets every record, in the
/// order the judging stage hands them over, on one thread.
public protocol ReportSink: AnyObject {
    func write(_ record: ReportRecord)
    /// The run is over: write what was held back and close what was opened. Errors that must
    /// reach the user (a directory that cannot be written) are returned as one line each.
    func finish() -> [String]
}

extension ReportSink {
    public func finish() -> [String] { [] }
}

/// Several sinks fed the same records.
public final class ReportSinks: ReportSink {
    private let sinks: [any ReportSink]
    public init(_ sinks: [any ReportSink]) { self.sinks = sinks }
    public func write(_ record: ReportRecord) { for s in sinks { s.write(record) } }
    public func finish() -> [String] { sinks.flatMap { $0.finish() } }
}
