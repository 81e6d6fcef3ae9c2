/// Why a connection ended, as the reassembler tells it, and how a session ended (the same, or
/// `quit`); the raw value is what the session record's `close` writes.
public enum CloseReason: String, Sendable, CaseIterable {
    /// The server answered QUIT with 221 (a session's end; never the reassembler's).
    case quit
    /// Both sides sent FIN and all their data was delivered.
    case fin
    /// A side sent RST.
    case rst
    /// No packet for longer than the idle timeout.
    case idle
    /// The capture ended with the connection still open.
    case captureEnd = "capture-end"
    /// A new SYN reused the connection's addresses and ports.
    case portReuse = "port-reuse"
    /// The connection table was full; the least recently active connections were closed.
    case tableFull = "table-full"
    /// The consumer stopped following it (not SMTP).
    case ignored
}
