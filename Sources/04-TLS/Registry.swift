/// Numbers from the IANA TLS registries that the layer needs: versions, cipher suites (with how
/// their records are protected), GREASE values.

/// RFC 8701 §2: GREASE values are `0x?A?A` with both bytes equal (cipher suites, extensions,
/// groups, signature algorithms, versions). Fingerprints leave them out.
@inlinable
public func isGREASE(_ v: UInt16) -> Bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A protocol version as on the wire (`0x0303` is TLS 1.2).
public struct TLSVersion: RawRepresentable, Hashable, Sendable, Comparable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ssl3 = TLSVersion(rawValue: 0x0300)
    public static let tls10 = TLSVersion(rawValue: 0x0301)
    public static let tls11 = TLSVersion(rawValue: 0x0302)
    public static let tls12 = TLSVersion(rawValue: 0x0303)
    public static let tls13 = TLSVersion(rawValue: 0x0304)

    public static func < (a: TLSVersion, b: TLSVersion) -> Bool { a.rawValue < b.rawValue }

    /// `TLS 1.3`, `TLS 1.2`, … as Wireshark writes them; `0x7f1c` for anything else.
    public var name: String {
        switch rawValue {
        case 0x0300: return "SSL 3.0"
        case 0x0301: return "TLS 1.0"
        case 0x0302: return "TLS 1.1"
        case 0x0303: return "TLS 1.2"
        case 0x0304: return "TLS 1.3"
        default: return hex4(rawValue)
        }
    }
}

/// How records of a cipher suite are protected (RFC 5246 §6.2.3, RFC 5288, RFC 7905, RFC 8446 §5.2).
public enum RecordProtectionKind: Hashable, Sendable {
    /// AES-GCM; `keyLength` 16 or 32. TLS 1.2 adds an 8-byte explicit nonce per record.
    case aesGCM(keyLength: Int)
    /// ChaCha20-Poly1305 (32-byte key, 12-byte IV, nonce = IV xor sequence number).
    case chaCha20Poly1305
    /// AES-CBC with an HMAC (TLS ≤ 1.2 only).
    case aesCBC(keyLength: Int, mac: MACAlgorithm)
    /// A suite whose records this layer does not decrypt (CCM, 3DES, RC4, NULL, unknown).
    case unsupported
}

/// HMAC hash of a CBC suite (RFC 5246 §6.2.3.1).
public enum MACAlgorithm: Hashable, Sendable {
    case sha1, sha256, sha384
    /// Length of the MAC and of its key.
    public var length: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha384: return 48
        }
    }
}

/// Hash of a suite's PRF (TLS 1.2, RFC 5246 §5) or HKDF (TLS 1.3, RFC 8446 §7.1).
public enum SuiteHash: Hashable, Sendable {
    case sha256, sha384
    public var length: Int { self == .sha256 ? 32 : 48 }
}

/// A cipher suite: its number, IANA name and what decryption needs.
public struct CipherSuite: Hashable, Sendable {
    public var id: UInt16
    /// The IANA name (`TLS_AES_256_GCM_SHA384`), or `0x….` when unknown.
    public var name: String
    public var protection: RecordProtectionKind
    public var hash: SuiteHash
    /// True for the five TLS 1.3 suites (0x1301…0x1305).
    public var isTLS13: Bool { id >> 8 == 0x13 }

    public init(id: UInt16) {
        self.id = id
        if let known = CipherSuite.table[id] {
            name = known.0
            protection = known.1
            hash = known.2
        } else {
            name = hex4(id)
            protection = .unsupported
            hash = .sha256
        }
    }

    /// Known suites. Names and numbers from the IANA registry; hashes from each suite's RFC
    /// (RFC 5289 and RFC 5288 name a SHA-384 PRF in the `_SHA384` suites; CBC suites ending in
    /// `_SHA` use HMAC-SHA1 and the SHA-256 PRF in TLS 1.2).
    static let table: [UInt16: (String, RecordProtectionKind, SuiteHash)] = {
        var t: [UInt16: (String, RecordProtectionKind, SuiteHash)] = [
            0x1301: ("TLS_AES_128_GCM_SHA256", .aesGCM(keyLength: 16), .sha256),
            0x1302: ("TLS_AES_256_GCM_SHA384", .aesGCM(keyLength: 32), .sha384),
            0x1303: ("TLS_CHACHA20_POLY1305_SHA256", .chaCha20Poly1305, .sha256),
            0x1304: ("TLS_AES_128_CCM_SHA256", .unsupported, .sha256),
            0x1305: ("TLS_AES_128_CCM_8_SHA256", .unsupported, .sha256),
            0x00ff: ("TLS_EMPTY_RENEGOTIATION_INFO_SCSV", .unsupported, .sha256),
            0x5600: ("TLS_FALLBACK_SCSV", .unsupported, .sha256),
            0x000a: ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", .unsupported, .sha256),
            0xc012: ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", .unsupported, .sha256),
            0xccaa: ("TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", .chaCha20Poly1305, .sha256),
            0xcca8: ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", .chaCha20Poly1305, .sha256),
            0xcca9: ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", .chaCha20Poly1305, .sha256),
        ]
        // AES-GCM (RFC 5288, RFC 5289).
        let gcm: [(UInt16, String, Int, SuiteHash)] = [
            (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", 16, .sha256),
            (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", 32, .sha384),
            (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", 16, .sha256),
            (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", 32, .sha384),
            (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 16, .sha256),
            (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 32, .sha384),
            (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 16, .sha256),
            (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 32, .sha384),
        ]
        for (id, name, k, h) in gcm { t[id] = (name, .aesGCM(keyLength: k), h) }
        // AES-CBC (RFC 5246 appendix A.5, RFC 4492, RFC 5289).
        let cbc: [(UInt16, String, Int, MACAlgorithm, SuiteHash)] = [
            (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", 16, .sha1, .sha256),
            (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 32, .sha1, .sha256),
            (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", 16, .sha256, .sha256),
            (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", 32, .sha256, .sha256),
            (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 16, .sha1, .sha256),
            (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 32, .sha1, .sha256),
            (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 16, .sha256, .sha256),
            (0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 32, .sha256, .sha256),
            (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, .sha1, .sha256),
            (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, .sha1, .sha256),
            (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, .sha1, .sha256),
            (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, .sha1, .sha256),
            (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, .sha256, .sha256),
            (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, .sha384, .sha384),
            (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, .sha256, .sha256),
            (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, .sha384, .sha384),
        ]
        for (id, name, k, m, h) in cbc { t[id] = (name, .aesCBC(keyLength: k, mac: m), h) }
        // CCM suites are named but not decrypted (swift-crypto has no CCM).
        let ccm: [(UInt16, String)] = [
            (0xc09c, "TLS_RSA_WITH_AES_128_CCM"), (0xc09d, "TLS_RSA_WITH_AES_256_CCM"),
            (0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM"), (0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM"),
            (0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"), (0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
        ]
        for (id, name) in ccm { t[id] = (name, .unsupported, .sha256) }
        return t
    }()
}

/// `0x1302`: four lower-case hex digits after `0x`.
func hex4(_ v: UInt16) -> String {
    "0x" + hexDigits(v)
}

/// Four lower-case hex digits, no prefix (JA4 writes values this way).
func hexDigits(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 4 - s.count) + s
}

/// Lower-case hex of bytes.
func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}
