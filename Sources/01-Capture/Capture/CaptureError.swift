/// A problem with an input: the file, not the traffic. One line for people, naming the file.
public struct CaptureError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var problem: String
    /// The fault is in what was asked (a capture filter that does not compile), not in the input:
    /// the command line exits with the usage status, as tcpdump does.
    public var isUsageError: Bool

    public init(file: String, problem: String, isUsageError: Bool = false) {
        self.file = file
        self.problem = problem
        self.isUsageError = isUsageError
    }

    public var description: String { "\(file): \(problem)" }

    /// Turns libpcap's error text into the plainer wording smtpscope prints.
    static func fromLibpcap(file: String, _ message: String) -> CaptureError {
        let m = message.hasPrefix(file + ": ") ? String(message.dropFirst(file.count + 2)) : message
        if m.contains("No such file") { return CaptureError(file: file, problem: "no such file") }
        if m.contains("Permission denied") { return CaptureError(file: file, problem: "permission denied") }
        if m.contains("Is a directory") { return CaptureError(file: file, problem: "is a directory, not a capture file") }
        if m.contains("unknown file format") || m.contains("bad dump file format") {
            return CaptureError(file: file, problem: "not a capture file (neither pcap nor pcapng)")
        }
        if m.contains("truncated") || m.contains("cut short") {
            return CaptureError(file: file, problem: "file is cut short (\(m))")
        }
        if m.contains("different from the type of the first interface") || m.contains("link-layer type") {
            return CaptureError(file: file, problem: "pcapng file mixes link types, which libpcap cannot read (\(m)); split it with `editcap -T` or by interface first")
        }
        if m.isEmpty { return CaptureError(file: file, problem: "cannot be read") }
        return CaptureError(file: file, problem: m)
    }
}
