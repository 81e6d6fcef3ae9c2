/// The TLS record layer, read from one direction's reassembled bytes.
///
/// RFC 8446 §5.1 / RFC 5246 §6.2.1:
///
///     struct {
///         ContentType type;                 // 1 byte: 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data
///         ProtocolVersion legacy_record_version;  // 2 bytes, major 3
///         uint16 length;
///         opaque fragment[length];
///     } TLSPlaintext / TLSCiphertext;
///
/// A record may arrive split over any number of segments, and one segment may hold many records.

/// Named limits of the TLS layer.
public struct TLSLimits: Sendable {
    /// Largest record fragment accepted: 2^14 + 2048 (RFC 5246 §6.2.3 TLSCiphertext; RFC 8446 §5.2
    /// allows only 2^14 + 256, so this covers both). A longer length field means the bytes are not
    /// (or no longer) TLS records: the direction is lost.
    public var maxRecordLength = 16384 + 2048
    /// Largest handshake message reassembled across records (a certificate chain is the largest
    /// message in practice; 256 KiB holds chains of a dozen large certificates). Longer messages are
    /// skipped with an anomaly.
    public var maxHandshakeMessage = 256 << 10
    /// Certificates parsed per Certificate message; the rest are counted, not parsed.
    public var maxCertificates = 16
    public init() {}
}

/// The record content types of RFC 8446 §5.1 (and heartbeat, RFC 6520).
public enum ContentType: UInt8, Sendable {
    case changeCipherSpec = 20
    case alert = 21
    case handshake = 22
    case applicationData = 23
    case heartbeat = 24
}

/// One record as on the wire.
public struct TLSRecord: Sendable, Equatable {
    /// The outer content type byte (23 for every TLS 1.3 encrypted record).
    public var type: UInt8
    public var version: UInt16
    public var fragment: [UInt8]

    /// The 5-byte header, which TLS 1.3 authenticates as additional data.
    var header: [UInt8] {
        [type, UInt8(version >> 8), UInt8(version & 0xff), UInt8(fragment.count >> 8), UInt8(fragment.count & 0xff)]
    }
}

/// Streaming record parser for one direction. Bytes in (any segmentation), whole records out.
struct RecordParser {
    enum Output: Equatable {
        case record(TLSRecord)
        /// Not enough bytes for the next record: not an error.
        case needMore
        /// The bytes do not form a TLS record header; parsing of this direction stops.
        case notTLS(reason: String)
    }

    let limits: TLSLimits
    private var buffer: [UInt8] = []
    private var start = 0

    init(limits: TLSLimits) { self.limits = limits }

    /// Bytes buffered but not yet part of a whole record.
    var pending: Int { buffer.count - start }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole record, if the buffer holds one.
    mutating func next() -> Output {
        let available = buffer.count - start
        guard available >= 5 else { return .needMore }
        let type = buffer[start]
        let major = buffer[start + 1]
        let version = UInt16(major) << 8 | UInt16(buffer[start + 2])
        let length = Int(buffer[start + 3]) << 8 | Int(buffer[start + 4])
        guard ContentType(rawValue: type) != nil else {
            return .notTLS(reason: "record content type \(type)")
        }
        guard major == 3 else { return .notTLS(reason: "record version \(hex4(version))") }
        guard length <= limits.maxRecordLength else {
            return .notTLS(reason: "record length \(length) over the limit of \(limits.maxRecordLength)")
        }
        guard available >= 5 + length else { return .needMore }
        let fragment = Array(buffer[(start + 5)..<(start + 5 + length)])
        start += 5 + length
        return .record(TLSRecord(type: type, version: version, fragment: fragment))
    }
}

/// Joins handshake messages that span records and splits records that hold several
/// (RFC 8446 §4: `HandshakeType msg_type; uint24 length; body`).
struct HandshakeAssembler {
    let limits: TLSLimits
    private var buffer: [UInt8] = []
    /// Bytes of an over-long message still to be skipped.
    private var skipping = 0

    init(limits: TLSLimits) { self.limits = limits }

    enum Output {
        case message(type: UInt8, body: [UInt8])
        case tooLong(type: UInt8, length: Int)
    }

    /// True while part of a message is buffered.
    var isMidMessage: Bool { !buffer.isEmpty || skipping > 0 }

    mutating func append(_ bytes: [UInt8]) -> [Output] {
        var bytes = bytes[...]
        if skipping > 0 {
            let n = min(skipping, bytes.count)
            skipping -= n
            bytes = bytes.dropFirst(n)
        }
        buffer.append(contentsOf: bytes)
        var out: [Output] = []
        var i = 0
        while buffer.count - i >= 4 {
            let type = buffer[i]
            let length = Int(buffer[i + 1]) << 16 | Int(buffer[i + 2]) << 8 | Int(buffer[i + 3])
            if length > limits.maxHandshakeMessage {
                out.append(.tooLong(type: type, length: length))
                let have = buffer.count - i - 4
                if have >= length {
                    i += 4 + length
                    continue
                }
                skipping = length - have
                i = buffer.count
                break
            }
            guard buffer.count - i - 4 >= length else { break }
            out.append(.message(type: type, body: Array(buffer[(i + 4)..<(i + 4 + length)])))
            i += 4 + length
        }
        buffer.removeFirst(i)
        return out
    }
}
