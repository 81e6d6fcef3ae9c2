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

    /// Parses one DER certificate; nil when swift-certificates rejects it.
    public init?(der: [UInt8]) {
        guard let cert = try? Certificate(derEncoded: der) else { return nil }
        subject = cert.subject.description
        issuer = cert.issuer.description
        notValidBefore = cert.notValidBefore
        notValidAfter = cert.notValidAfter
        serialNumber = hexString(cert.serialNumber.bytes)
        var names: [String] = []
        if let sans = try? cert.extensions.subjectAlternativeNames {
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

/// Dotted IPv4, or IPv6 as eight hex groups (not compressed), or hex for other lengths.
private func ipText(_ b: [UInt8]) -> String {
    if b.count == 4 { return b.map(String.init).joined(separator: ".") }
    if b.count == 16 {
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16) }.joined(separator: ":")
    }
    return hexString(b)
}
