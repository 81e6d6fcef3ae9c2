import Vocabulary

/// What a ``TLSConnection`` reports, in the order the bytes revealed it. Times are those of the
/// bytes that completed the record the event came from.
public enum TLSEvent: Sendable {
    /// The client's hello (sent in clear), with its fingerprints.
    case clientHello(ClientHello, ja3: String, ja4: String, at: Timestamp)
    /// A HelloRetryRequest: the server asks for another ClientHello.
    case helloRetryRequest(ServerHello, at: Timestamp)
    /// The server's hello: negotiated version and cipher suite.
    case serverHello(ServerHello, ja3s: String, at: Timestamp)
    /// A Certificate message: in clear for TLS ≤ 1.2, decrypted for TLS 1.3. `certificates` holds
    /// those swift-certificates could parse (leaf first); `count` all that were sent.
    case certificates([CertificateInfo], count: Int, from: Direction, at: Timestamp)
    /// The ALPN protocol the server selected (ServerHello in TLS ≤ 1.2, EncryptedExtensions in 1.3).
    case alpnSelected(String, at: Timestamp)
    /// Any other handshake message seen (in clear or decrypted).
    case handshakeMessage(HandshakeType, from: Direction, at: Timestamp)
    /// ChangeCipherSpec in TLS ≤ 1.2: this direction is encrypted from the next record on.
    case changeCipherSpec(from: Direction, at: Timestamp)
    /// This direction's records are decrypted from here on (keys found for it).
    case decrypting(from: Direction, at: Timestamp)
    /// A key update (RFC 8446 §7.2): the direction moved to its next traffic secret.
    case keyUpdate(from: Direction, at: Timestamp)
    /// The handshake finished (both Finished messages seen, or, without keys, inferred).
    case handshakeComplete(at: Timestamp)
    /// The handshake failed: a fatal alert, or the connection closed before it finished.
    case handshakeFailed(HandshakeOutcome, at: Timestamp)
    /// An alert; `encrypted` when it was read from a decrypted record.
    case alert(TLSAlert, from: Direction, encrypted: Bool, at: Timestamp)
    /// Decrypted application bytes of one record.
    case applicationData([UInt8], from: Direction, at: Timestamp)
    /// A protected record that could not be read (no keys, or after a decryption failure): its
    /// size and time, which still pair legs of an intercepted connection.
    case encryptedRecord(length: Int, from: Direction, at: Timestamp)
    /// The direction's bytes are not TLS records (never were, or no longer are); nothing more is
    /// read from it. The caller may treat the bytes as clear text.
    case notTLS(from: Direction, at: Timestamp)
    /// Something unusual: a record that failed to decrypt or authenticate, a malformed message.
    case anomaly(Anomaly, from: Direction)
}

/// How far a handshake got: the last step seen (in order of a full handshake).
public enum HandshakeStep: Int, Sendable, Comparable, CaseIterable {
    case none
    case clientHello
    case helloRetryRequest
    case serverHello
    /// The server's Certificate (TLS ≤ 1.2 in clear; TLS 1.3 decrypted).
    case certificate
    /// TLS ≤ 1.2 ServerHelloDone (ServerKeyExchange counts as the step before it).
    case serverHelloDone
    /// TLS 1.3 without keys: the server's encrypted flight (EncryptedExtensions … Finished).
    case serverEncryptedFlight
    /// TLS ≤ 1.2 ClientKeyExchange.
    case clientKeyExchange
    /// The server's Finished (TLS 1.3 decrypted, or TLS ≤ 1.2).
    case serverFinished
    /// The client's Finished (or, without keys, its first encrypted handshake record).
    case clientFinished
    case complete

    public static func < (a: HandshakeStep, b: HandshakeStep) -> Bool { a.rawValue < b.rawValue }

    /// `after-client-hello`, `after-server-hello`, …: where a failed handshake stopped.
    public var name: String {
        switch self {
        case .none: return "before-client-hello"
        case .clientHello: return "after-client-hello"
        case .helloRetryRequest: return "after-hello-retry-request"
        case .serverHello: return "after-server-hello"
        case .certificate: return "after-certificate"
        case .serverHelloDone: return "after-server-hello-done"
        case .serverEncryptedFlight: return "after-server-flight"
        case .clientKeyExchange: return "after-client-key-exchange"
        case .serverFinished: return "after-server-finished"
        case .clientFinished: return "after-client-finished"
        case .complete: return "complete"
        }
    }
}

/// The end state of a handshake.
public enum HandshakeOutcome: Sendable, Equatable {
    case complete
    /// Stopped at `after` by a fatal alert (`alert` set, with who sent it) or by the connection
    /// closing (`alert` nil).
    case failed(after: HandshakeStep, alert: TLSAlert?, alertFrom: Direction?)
    /// Neither finished nor failed: the capture ended first (or still runs).
    case incomplete(after: HandshakeStep)

    /// `complete`, `failed` or `incomplete`.
    public var name: String {
        switch self {
        case .complete: return "complete"
        case .failed: return "failed"
        case .incomplete: return "incomplete"
        }
    }
}

/// What is known of a TLS session so far: the facts the session record reports.
public struct TLSSummary: Sendable {
    /// The negotiated version (from the ServerHello), or nil before it.
    public var version: TLSVersion?
    /// The negotiated cipher suite.
    public var cipher: CipherSuite?
    /// The SNI host name the client sent.
    public var sni: String?
    /// ALPN names the client offered.
    public var alpnOffered: [String] = []
    /// The ALPN protocol the server selected.
    public var alpn: String?
    public var ja3: String?
    /// The JA3 text before hashing (`771,4866-…,…`).
    public var ja3Text: String?
    public var ja3s: String?
    public var ja3sText: String?
    public var ja4: String?
    /// The server's certificate chain (leaf first), where it was readable.
    public var serverCertificates: [CertificateInfo] = []
    /// A HelloRetryRequest was seen.
    public var helloRetryRequest = false
    /// The ClientHello's random (the key log's key), hex.
    public var clientRandom: [UInt8]?
    /// How far the handshake got.
    public var step: HandshakeStep = .none
    /// Set once the handshake completed or failed; `outcome` gives the state at any time.
    var ended: HandshakeOutcome?
    /// Per direction (`toServer`, `toClient`): whether its protected records were decrypted.
    public var decrypted: [Bool] = [false, false]
    /// The key log held secrets for this session's client random.
    public var keysFound = false

    /// complete / failed / incomplete as of now.
    public var outcome: HandshakeOutcome { ended ?? .incomplete(after: step) }
}
