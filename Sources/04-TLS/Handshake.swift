import Vocabulary

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
public enum HandshakeType: UInt8, Sendable {
    case helloRequest = 0
    case clientHello = 1
    case serverHello = 2
    case newSessionTicket = 4
    case endOfEarlyData = 5
    case encryptedExtensions = 8
    case certificate = 11
    case serverKeyExchange = 12
    case certificateRequest = 13
    case serverHelloDone = 14
    case certificateVerify = 15
    case clientKeyExchange = 16
    case finished = 20
    case certificateStatus = 22
    case keyUpdate = 24
    case messageHash = 254
}

/// Extension numbers the layer reads (IANA "TLS ExtensionType Values").
enum ExtensionType {
    static let serverName: UInt16 = 0
    static let supportedGroups: UInt16 = 10
    static let ecPointFormats: UInt16 = 11
    static let signatureAlgorithms: UInt16 = 13
    static let alpn: UInt16 = 16
    static let encryptThenMAC: UInt16 = 22
    static let extendedMasterSecret: UInt16 = 23
    static let supportedVersions: UInt16 = 43
    static let keyShare: UInt16 = 51
}

/// One extension as sent: its number and its bytes.
public struct TLSExtension: Sendable, Equatable {
    public var type: UInt16
    public var data: [UInt8]
}

/// A ClientHello (RFC 8446 §4.1.2), with the extensions the report and the fingerprints use.
public struct ClientHello: Sendable, Equatable {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3 clients).
    public var legacyVersion: UInt16
    public var random: [UInt8]
    public var sessionID: [UInt8]
    /// Offered cipher suites in order, GREASE included.
    public var cipherSuites: [UInt16]
    public var compressionMethods: [UInt8]
    /// Extensions in order, GREASE included.
    public var extensions: [TLSExtension]
    /// The `host_name` of server_name (SNI), if sent.
    public var serverName: String?
    /// ALPN protocol names offered, in order.
    public var alpn: [String]
    /// The first ALPN name's raw bytes (JA4 reads them, printable or not).
    public var firstALPNBytes: [UInt8]?
    /// supported_versions, in order, GREASE included.
    public var supportedVersions: [UInt16]
    /// supported_groups (formerly elliptic_curves), in order, GREASE included.
    public var supportedGroups: [UInt16]
    public var ecPointFormats: [UInt8]
    /// signature_algorithms, in order.
    public var signatureAlgorithms: [UInt16]
    /// Groups of the key_share entries.
    public var keyShareGroups: [UInt16]

    /// The highest non-GREASE version offered in supported_versions, else `legacy_version`.
    public var highestVersion: UInt16 {
        supportedVersions.filter { !isGREASE($0) }.max() ?? legacyVersion
    }
}

/// A ServerHello (RFC 8446 §4.1.3), or a HelloRetryRequest, which has the same form.
public struct ServerHello: Sendable, Equatable {
    public var legacyVersion: UInt16
    public var random: [UInt8]
    public var sessionID: [UInt8]
    public var cipherSuite: UInt16
    public var compressionMethod: UInt8
    public var extensions: [TLSExtension]
    /// The version from supported_versions (TLS 1.3), if present.
    public var selectedVersion: UInt16?
    /// The ALPN protocol the server chose (TLS ≤ 1.2 sends it here; TLS 1.3 in EncryptedExtensions).
    public var alpn: String?
    /// The key_share group (TLS 1.3; a HelloRetryRequest names the group it wants).
    public var keyShareGroup: UInt16?
    /// RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest").
    public var isHelloRetryRequest: Bool { random == ServerHello.helloRetryRequestRandom }
    /// The negotiated version: supported_versions if present, else `legacy_version`.
    public var negotiatedVersion: TLSVersion { TLSVersion(rawValue: selectedVersion ?? legacyVersion) }
    /// RFC 7366 encrypt_then_mac echoed by the server.
    public var encryptThenMAC: Bool { extensions.contains { $0.type == ExtensionType.encryptThenMAC } }
    public var extendedMasterSecret: Bool { extensions.contains { $0.type == ExtensionType.extendedMasterSecret } }

    static let helloRetryRequestRandom: [UInt8] = [
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
        0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    ]
}

/// An alert (RFC 8446 §6).
public struct TLSAlert: Sendable, Equatable {
    /// 1 warning, 2 fatal.
    public var level: UInt8
    public var description: UInt8
    public var isFatal: Bool { level == 2 }
    /// close_notify (0) and user_canceled (90) end a connection without an error.
    public var isClosure: Bool { description == 0 || description == 90 }

    /// The RFC's name (`handshake_failure`), or the number.
    public var name: String {
        switch description {
        case 0: return "close_notify"
        case 10: return "unexpected_message"
        case 20: return "bad_record_mac"
        case 22: return "record_overflow"
        case 40: return "handshake_failure"
        case 42: return "bad_certificate"
        case 43: return "unsupported_certificate"
        case 44: return "certificate_revoked"
        case 45: return "certificate_expired"
        case 46: return "certificate_unknown"
        case 47: return "illegal_parameter"
        case 48: return "unknown_ca"
        case 49: return "access_denied"
        case 50: return "decode_error"
        case 51: return "decrypt_error"
        case 70: return "protocol_version"
        case 71: return "insufficient_security"
        case 80: return "internal_error"
        case 86: return "inappropriate_fallback"
        case 90: return "user_canceled"
        case 100: return "no_renegotiation"
        case 109: return "missing_extension"
        case 110: return "unsupported_extension"
        case 112: return "unrecognized_name"
        case 113: return "bad_certificate_status_response"
        case 115: return "unknown_psk_identity"
        case 116: return "certificate_required"
        case 120: return "no_application_protocol"
        default: return String(description)
        }
    }

    static func parse(_ bytes: [UInt8]) -> TLSAlert? {
        guard bytes.count == 2 else { return nil }
        return TLSAlert(level: bytes[0], description: bytes[1])
    }
}

// MARK: - Parsing

extension ByteReader {
    /// A vector with a 1-, 2- or 3-byte length prefix (RFC 8446 §3.4), as bytes.
    mutating func readVector(lengthBytes: Int) -> [UInt8]? {
        var length = 0
        for _ in 0..<lengthBytes {
            guard let b = readUInt8() else { return nil }
            length = length << 8 | Int(b)
        }
        guard let s = readSlice(length) else { return nil }
        return Array(s)
    }
}

/// Reads a list of 16-bit values from vector bytes (an odd byte at the end is dropped).
func uint16List(_ bytes: [UInt8]) -> [UInt16] {
    stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
}

/// Reads `extensions<0..2^16-1>` that end a hello; nil when malformed.
func parseExtensions(_ r: inout ByteReader) -> [TLSExtension]? {
    guard r.remaining > 0 else { return [] }
    guard let block = r.readVector(lengthBytes: 2) else { return nil }
    var out: [TLSExtension] = []
    let ok: Bool = block.withUnsafeBytes { raw in
        var e = ByteReader(raw)
        while e.remaining > 0 {
            guard let type = e.readUInt16(), let data = e.readVector(lengthBytes: 2) else { return false }
            out.append(TLSExtension(type: type, data: data))
        }
        return true
    }
    return ok ? out : nil
}

extension ClientHello {
    /// Parses a ClientHello body (after the 4-byte handshake header); nil when malformed.
    public static func parse(_ body: [UInt8]) -> ClientHello? {
        body.withUnsafeBytes { raw -> ClientHello? in
            var r = ByteReader(raw)
            guard let version = r.readUInt16(), let random = r.readSlice(32),
                let session = r.readVector(lengthBytes: 1),
                let suites = r.readVector(lengthBytes: 2),
                let compression = r.readVector(lengthBytes: 1),
                let extensions = parseExtensions(&r)
            else { return nil }
            var hello = ClientHello(
                legacyVersion: version, random: Array(random), sessionID: session, cipherSuites: uint16List(suites),
                compressionMethods: compression, extensions: extensions, serverName: nil, alpn: [], firstALPNBytes: nil,
                supportedVersions: [], supportedGroups: [], ecPointFormats: [], signatureAlgorithms: [], keyShareGroups: [])
            for e in extensions {
                e.data.withUnsafeBytes { raw in
                    var x = ByteReader(raw)
                    switch e.type {
                    case ExtensionType.serverName:
                        // server_name_list: name_type (0 = host_name) + opaque name<1..2^16-1>.
                        if let list = x.readVector(lengthBytes: 2) {
                            list.withUnsafeBytes { l in
                                var n = ByteReader(l)
                                while let kind = n.readUInt8(), let name = n.readVector(lengthBytes: 2) {
                                    if kind == 0, hello.serverName == nil { hello.serverName = String(decoding: name, as: UTF8.self) }
                                }
                            }
                        }
                    case ExtensionType.alpn:
                        if let list = x.readVector(lengthBytes: 2) {
                            list.withUnsafeBytes { l in
                                var n = ByteReader(l)
                                while let name = n.readVector(lengthBytes: 1) {
                                    if hello.firstALPNBytes == nil { hello.firstALPNBytes = name }
                                    hello.alpn.append(String(decoding: name, as: UTF8.self))
                                }
                            }
                        }
                    case ExtensionType.supportedVersions:
                        if let list = x.readVector(lengthBytes: 1) { hello.supportedVersions = uint16List(list) }
                    case ExtensionType.supportedGroups:
                        if let list = x.readVector(lengthBytes: 2) { hello.supportedGroups = uint16List(list) }
                    case ExtensionType.ecPointFormats:
                        if let list = x.readVector(lengthBytes: 1) { hello.ecPointFormats = list }
                    case ExtensionType.signatureAlgorithms:
                        if let list = x.readVector(lengthBytes: 2) { hello.signatureAlgorithms = uint16List(list) }
                    case ExtensionType.keyShare:
                        if let list = x.readVector(lengthBytes: 2) {
                            list.withUnsafeBytes { l in
                                var n = ByteReader(l)
                                while let group = n.readUInt16(), n.readVector(lengthBytes: 2) != nil {
                                    hello.keyShareGroups.append(group)
                                }
                            }
                        }
                    default:
                        break
                    }
                }
            }
            return hello
        }
    }
}

extension ServerHello {
    /// Parses a ServerHello (or HelloRetryRequest) body; nil when malformed.
    public static func parse(_ body: [UInt8]) -> ServerHello? {
        body.withUnsafeBytes { raw -> ServerHello? in
            var r = ByteReader(raw)
            guard let version = r.readUInt16(), let random = r.readSlice(32),
                let session = r.readVector(lengthBytes: 1),
                let suite = r.readUInt16(), let compression = r.readUInt8(),
                let extensions = parseExtensions(&r)
            else { return nil }
            var hello = ServerHello(
                legacyVersion: version, random: Array(random), sessionID: session, cipherSuite: suite,
                compressionMethod: compression, extensions: extensions, selectedVersion: nil, alpn: nil, keyShareGroup: nil)
            for e in extensions {
                e.data.withUnsafeBytes { raw in
                    var x = ByteReader(raw)
                    switch e.type {
                    case ExtensionType.supportedVersions:
                        hello.selectedVersion = x.readUInt16()
                    case ExtensionType.alpn:
                        hello.alpn = firstALPN(&x)
                    case ExtensionType.keyShare:
                        hello.keyShareGroup = x.readUInt16()
                    default:
                        break
                    }
                }
            }
            return hello
        }
    }
}

/// The first name of an ALPN extension body (`ProtocolNameList`).
func firstALPN(_ x: inout ByteReader) -> String? {
    guard let list = x.readVector(lengthBytes: 2) else { return nil }
    return list.withUnsafeBytes { l in
        var n = ByteReader(l)
        return n.readVector(lengthBytes: 1).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// The ALPN protocol in a TLS 1.3 EncryptedExtensions body (`Extension extensions<0..2^16-1>`).
func alpnInEncryptedExtensions(_ body: [UInt8]) -> String? {
    body.withUnsafeBytes { raw -> String? in
        var r = ByteReader(raw)
        guard let extensions = parseExtensions(&r) else { return nil }
        guard let e = extensions.first(where: { $0.type == ExtensionType.alpn }) else { return nil }
        return e.data.withUnsafeBytes { d in
            var x = ByteReader(d)
            return firstALPN(&x)
        }
    }
}

/// The DER certificates of a Certificate message: TLS ≤ 1.2 (`ASN.1Cert certificate_list<0..2^24-1>`,
/// RFC 5246 §7.4.2) or TLS 1.3 (request context, then entries of cert_data and extensions,
/// RFC 8446 §4.4.2). Nil when malformed.
func certificateList(_ body: [UInt8], tls13: Bool) -> [[UInt8]]? {
    body.withUnsafeBytes { raw -> [[UInt8]]? in
        var r = ByteReader(raw)
        if tls13 { guard r.readVector(lengthBytes: 1) != nil else { return nil } }
        guard let list = r.readVector(lengthBytes: 3) else { return nil }
        return list.withUnsafeBytes { l -> [[UInt8]]? in
            var c = ByteReader(l)
            var out: [[UInt8]] = []
            while c.remaining > 0 {
                guard let der = c.readVector(lengthBytes: 3) else { return nil }
                if tls13 { guard c.readVector(lengthBytes: 2) != nil else { return nil } }
                out.append(der)
            }
            return out
        }
    }
}
