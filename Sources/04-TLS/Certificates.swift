import Foundation
import SwiftASN1
import X509

/// What the report shows of one certificate of the server's chain, parsed by swift-certificates.
public struct CertificateInfo: Sendable, Equatable {
    /// Subject distinguished name in RFC 4514 order as swift-certificates writes it (`CN=mx.example.org`).
    public var subject: String
    /// Issuer distinguished name, the same way.
    public var issuer: String
    /// Start of validity (`notBefore`).
    public var notValidBefore: Date
    /// End of validity (`notAfter`).
    public var notValidAfter: Date
    /// subjectAltName entries: DNS names, IP addresses, e-mail addresses and URIs as text, in order.
    public var subjectAlternativeNames: [String]
    /// Serial number in lower-case hex.
    public var serialNumber: String

    /// Parses one DER certificate; nil when it is not a certificate.
    ///
    /// `Certificate(derEncoded:)` also decodes the public key and rejects keys it does not support
    /// (RSA under 2048 bits, unknown curves), which says nothing about the names and dates. For
    /// those the TBSCertificate (RFC 5280 §4.1) is walked with swift-asn1, and its names and
    /// extensions are still read by swift-certificates' own types.
    public init?(der: [UInt8]) {
        if let cert = try? Certificate(derEncoded: der) {
            self.init(subject: cert.subject, issuer: cert.issuer, notValidBefore: cert.notValidBefore, notValidAfter: cert.notValidAfter,
                      serial: cert.serialNumber.bytes, sans: try? cert.extensions.subjectAlternativeNames)
            return
        }
        guard let parts = try? TBSParts(der: der) else { return nil }
        self.init(subject: parts.subject, issuer: parts.issuer, notValidBefore: parts.notBefore, notValidAfter: parts.notAfter,
                  serial: parts.serial, sans: parts.sans)
    }

    private init<S: Collection>(subject: DistinguishedName, issuer: DistinguishedName, notValidBefore: Date, notValidAfter: Date, serial: S, sans: SubjectAlternativeNames?) where S.Element == UInt8 {
        self.subject = subject.description
        self.issuer = issuer.description
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        serialNumber = hexString(serial)
        var names: [String] = []
        if let sans {
            for name in sans {
                switch name {
                case .dnsName(let s), .rfc822Name(let s), .uniformResourceIdentifier(let s):
                    names.append(s)
                case .ipAddress(let octets):
                    names.append(ipText(Array(octets.bytes)))
                case .directoryName(let dn):
                    names.append(dn.description)
                case .otherName, .x400Address, .ediPartyName, .registeredID:
                    break
                }
            }
        }
        subjectAlternativeNames = names
    }
}

/// The fields of a TBSCertificate that the report shows, for certificates whose public key
/// swift-certificates does not take.
private struct TBSParts {
    var serial: ArraySlice<UInt8>
    var issuer: DistinguishedName
    var subject: DistinguishedName
    var notBefore: Date
    var notAfter: Date
    var sans: SubjectAlternativeNames?

    struct Malformed: Error {}

    init(der: [UInt8]) throws {
        let root = try DER.parse(der)
        guard case .constructed(let top) = root.content, let tbs = top.first(where: { _ in true }),
            case .constructed(let fields) = tbs.content
        else { throw Malformed() }
        var nodes = Array(fields)
        // version [0] EXPLICIT is optional.
        if let first = nodes.first, first.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) { nodes.removeFirst() }
        guard nodes.count >= 6 else { throw Malformed() }
        serial = try ArraySlice<UInt8>(derEncoded: nodes[0])
        issuer = try DistinguishedName(derEncoded: nodes[2])
        guard case .constructed(let validity) = nodes[3].content else { throw Malformed() }
        let times = try Array(validity).map(TBSParts.date)
        guard times.count == 2 else { throw Malformed() }
        notBefore = times[0]
        notAfter = times[1]
        subject = try DistinguishedName(derEncoded: nodes[4])
        sans = nil
        for node in nodes.dropFirst(6) where node.identifier == ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific) {
            guard case .constructed(let wrapper) = node.content, let list = wrapper.first(where: { _ in true }),
                case .constructed(let extensions) = list.content
            else { continue }
            for e in extensions {
                let ext = try Certificate.Extension(derEncoded: e)
                if ext.oid == .X509ExtensionID.subjectAlternativeName { sans = try? SubjectAlternativeNames(ext) }
            }
        }
    }

    /// UTCTime or GeneralizedTime as a date (UTC).
    static func date(_ node: ASN1Node) throws -> Date {
        var c = DateComponents()
        c.timeZone = TimeZone(identifier: "UTC")
        if node.identifier == UTCTime.defaultIdentifier {
            let t = try UTCTime(derEncoded: node)
            (c.year, c.month, c.day, c.hour, c.minute, c.second) = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
        } else {
            let t = try GeneralizedTime(derEncoded: node)
            (c.year, c.month, c.day, c.hour, c.minute, c.second) = (t.year, t.month, t.day, t.hours, t.minutes, t.seconds)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let d = calendar.date(from: c) else { throw Malformed() }
        return d
    }
}

/// Dotted IPv4, or IPv6 as eight hex groups (not compressed), or hex for other lengths.
private func ipText(_ b: [UInt8]) -> String {
    if b.count == 4 { return b.map(String.init).joined(separator: ".") }
    if b.count == 16 {
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
    }
    return hexString(b)
}
