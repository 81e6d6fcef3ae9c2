/// What followed a 220 to STARTTLS (RFC 3207 §4): a TLS handshake, or the dialogue in clear text.
///
/// The one place that decides. Captures exported by TLS-inspecting firewalls (and some broken
/// servers) show STARTTLS, 220, and then the dialogue in clear; everywhere else the client's
/// ClientHello follows. This is also where decryption of the TLS that follows would begin.
public enum StartTLSOutcome: Sendable, Equatable {
    /// A TLS record came: the rest is encrypted.
    case tls
    /// Anything else: the dialogue goes on in clear text.
    case plaintext

    /// Judges by the first bytes after the 220: the client's (its ClientHello comes first), or the
    /// server's when the client's are absent (`client` nil: they fell in a gap; empty: none seen).
    /// Nil while three bytes of the deciding side have not arrived, unless `final` (the connection
    /// ended, or too much is held): then a shorter start is judged as far as it goes, and no bytes
    /// at all count as TLS, as the server agreed to it.
    public static func judge(client: [UInt8]?, server: [UInt8], final: Bool) -> StartTLSOutcome? {
        if let client, !client.isEmpty {
            guard client.count >= 3 || final else { return nil }
            return SMTPDetector.isTLSRecord(client) ? .tls : .plaintext
        }
        if !server.isEmpty {
            // The client's first bytes may still come (the server's only wins when they are lost).
            guard server.count >= 3 && client == nil || final else { return nil }
            return SMTPDetector.isTLSRecord(server) ? .tls : .plaintext
        }
        return final ? .tls : nil
    }
}
