import Foundation
import Synchronization

/// The NSS key log format (`SSLKEYLOGFILE`, RFC 9850): one secret per line,
///
///     LABEL <client random, 64 hex digits> <secret, hex>
///
/// `#` starts a comment line; empty lines are allowed. Lines with an unknown label, a client random
/// that is not 32 bytes, or a secret that is not hex are ignored and counted.
public enum KeyLogLabel: String, Sendable, CaseIterable {
    /// TLS ≤ 1.2: the 48-byte master secret.
    case clientRandom = "CLIENT_RANDOM"
    case clientEarlyTrafficSecret = "CLIENT_EARLY_TRAFFIC_SECRET"
    case clientHandshakeTrafficSecret = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
    case serverHandshakeTrafficSecret = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
    case clientTrafficSecret0 = "CLIENT_TRAFFIC_SECRET_0"
    case serverTrafficSecret0 = "SERVER_TRAFFIC_SECRET_0"
    case exporterSecret = "EXPORTER_SECRET"
}

/// The secrets logged for one client random.
public struct SessionSecrets: Sendable, Equatable {
    public var secrets: [KeyLogLabel: [UInt8]] = [:]
    public init() {}
    public subscript(label: KeyLogLabel) -> [UInt8]? { secrets[label] }
}

/// Key log lines parsed incrementally: a file that grows (live capture) is fed as it grows, and a
/// line is read only once its newline has arrived.
public struct KeyLogParser: Sendable {
    /// Lines that were not comments, not empty, and not understood.
    public private(set) var badLines = 0
    /// Secret lines read.
    public private(set) var goodLines = 0
    /// Longest line kept while waiting for its newline; a longer one is dropped as bad.
    public static let maxLineLength = 4096
    private var partial: [UInt8] = []
    private var overlong = false

    public init() {}

    /// Feeds bytes; returns the secrets of every complete line among them.
    public mutating func feed<C: Collection>(_ bytes: C) -> [(label: KeyLogLabel, clientRandom: [UInt8], secret: [UInt8])] where C.Element == UInt8 {
        var out: [(label: KeyLogLabel, clientRandom: [UInt8], secret: [UInt8])] = []
        for b in bytes {
            if b == 0x0a {
                if overlong {
                    badLines += 1
                } else if let entry = parseLine(partial) {
                    out.append(entry)
                }
                partial.removeAll(keepingCapacity: true)
                overlong = false
            } else if partial.count < KeyLogParser.maxLineLength {
                partial.append(b)
            } else {
                overlong = true
            }
        }
        return out
    }

    /// Reads the last line when it has no newline (the end of a file that is complete).
    public mutating func finish() -> [(label: KeyLogLabel, clientRandom: [UInt8], secret: [UInt8])] {
        feed([0x0a])
    }

    private mutating func parseLine(_ line: [UInt8]) -> (label: KeyLogLabel, clientRandom: [UInt8], secret: [UInt8])? {
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        let trimmed = text.drop { $0 == " " || $0 == "\t" }
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
        let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 3, let label = KeyLogLabel(rawValue: String(fields[0])),
            let random = hexBytes(fields[1]), random.count == 32,
            let secret = hexBytes(fields[2]), !secret.isEmpty
        else {
            badLines += 1
            return nil
        }
        goodLines += 1
        return (label, random, secret)
    }
}

/// Parses hex digits (either case) into bytes; nil for odd length or a non-hex character.
func hexBytes<S: StringProtocol>(_ s: S) -> [UInt8]? {
    let digits = Array(s.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// Secrets by client random. A reference shared by every connection of a run, so that secrets
/// added later (a key log file that grows in live mode, a pcapng's Decryption Secrets Block met
/// while reading) reach connections that look them up later. Lookups and additions may come from
/// different threads: the state is behind a mutex.
public final class KeyLogStore: Sendable {
    private struct State: Sendable {
        var sessions: [[UInt8]: SessionSecrets] = [:]
        var parser = KeyLogParser()

        mutating func take(_ entries: [(label: KeyLogLabel, clientRandom: [UInt8], secret: [UInt8])]) {
            for e in entries { sessions[e.clientRandom, default: SessionSecrets()].secrets[e.label] = e.secret }
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// The pcapng Decryption Secrets Block type of a TLS key log (`TLSK`).
    public static let pcapngSecretsType: UInt32 = 0x544c534b

    /// A store holding the lines of `text`.
    public convenience init(text: String) {
        self.init()
        add(Array(text.utf8))
        finishInput()
    }

    /// Adds key log bytes (a whole file, or what a growing file gained since the last call).
    public func add<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let bytes = Array(bytes)
        state.withLock { $0.take($0.parser.feed(bytes)) }
    }

    /// Reads a last line that has no newline (call at the end of a file that will not grow).
    public func finishInput() {
        state.withLock { $0.take($0.parser.finish()) }
    }

    /// The secrets logged for a client random, if any.
    public func secrets(forClientRandom random: [UInt8]) -> SessionSecrets? {
        state.withLock { $0.sessions[random] }
    }

    /// Client randoms with at least one secret (a key log that matches no handshake in a capture
    /// is itself evidence: see the TLS-interception checks).
    public var clientRandoms: [[UInt8]] {
        state.withLock { Array($0.sessions.keys) }
    }

    /// Lines that were ignored as malformed.
    public var badLines: Int {
        state.withLock { $0.parser.badLines }
    }

    /// Secret lines read.
    public var goodLines: Int {
        state.withLock { $0.parser.goodLines }
    }
}
