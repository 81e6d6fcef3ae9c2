import Vocabulary

/// How bad a finding is.
public enum Severity: Int, Sendable, Comparable, CaseIterable {
    case info = 0, warning = 1, problem = 2

    public var word: String {
        switch self {
        case .info: return "info"
        case .warning: return "warning"
        case .problem: return "problem"
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
}

/// Something a mail admin should know about a session, in one sentence, with the reference behind it.
public struct Finding: Sendable {
    /// Stable identifier, e.g. `helo-without-hostname`; `smtpscope explain ID` tells more.
    public var id: FindingID
    public var severity: Severity
    /// When it happened (the line it concerns).
    public var time: Timestamp?
    /// One sentence for a mail admin, with this session's particulars.
    public var message: String
    /// The session (client leg for intercepts) and transaction it concerns.
    public var session: Int
    public var transaction: Int?
    /// Position of the timeline line it concerns, for the text timeline.
    public var timelineIndex: Int?

    public var reference: String { Catalog.entry(id).reference }
}
