/// The names an NTLM AUTHENTICATE message carries (MS-NLMP 2.2.1.3): who authenticated, in
/// which domain, from which computer. Never the responses (password hashes).
public struct NTLMIdentity: Sendable, Equatable {
    public var user: String
    public var domain: String
    public var workstation: String

    public init(user: String, domain: String, workstation: String) {
        self.user = user
        self.domain = domain
        self.workstation = workstation
    }

    /// Reads an AUTHENTICATE (type 3) message; nil for any other bytes (the NEGOTIATE message,
    /// a field that points outside the message, a user name that is not text). Pure: bytes in.
    ///
    /// Layout (little-endian): `NTLMSSP\0`, MessageType 3, then six fields of length (2),
    /// maximum length (2) and offset (4) — LmChallengeResponse at 12, NtChallengeResponse at 20,
    /// DomainName at 28, UserName at 36, Workstation at 44, EncryptedRandomSessionKey at 52 —
    /// and NegotiateFlags at 60. The names are UTF-16LE when NTLMSSP_NEGOTIATE_UNICODE (bit 0)
    /// is set, else in the OEM code page (read here as Latin-1). Old clients end the header at
    /// 52, before the flags, with their payload there; those are read as Unicode, as they send.
    public init?(authenticate m: [UInt8]) {
        guard m.count >= 52, m[0..<8].elementsEqual(Array("NTLMSSP\0".utf8)), Self.u32(m, 8) == 3 else { return nil }
        // The flags are there when no field's data begins before them.
        let payloadStart = [12, 20, 28, 36, 44].compactMap { at -> Int? in
            Self.u16(m, at) > 0 ? Int(Self.u32(m, at + 4)) : nil
        }.min() ?? m.count
        let unicode = m.count >= 64 && payloadStart >= 64 ? Self.u32(m, 60) & 1 != 0 : true
        func field(_ at: Int) -> String? {
            let length = Int(Self.u16(m, at)), offset = Int(Self.u32(m, at + 4))
            guard length <= 512, offset <= m.count, length <= m.count - offset else { return nil }
            let bytes = m[offset..<(offset + length)]
            let text: String
            if unicode {
                guard length % 2 == 0 else { return nil }
                let units = stride(from: bytes.startIndex, to: bytes.endIndex, by: 2).map { UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8 }
                text = String(decoding: units, as: UTF16.self)
            } else {
                text = String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
            }
            // Names are text: control characters mean the message is not what it seems.
            guard text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else { return nil }
            return text
        }
        guard let user = field(36), !user.isEmpty, let domain = field(28), let workstation = field(44) else { return nil }
        self.init(user: user, domain: domain, workstation: workstation)
    }

    private static func u16(_ m: [UInt8], _ at: Int) -> UInt16 { UInt16(m[at]) | UInt16(m[at + 1]) << 8 }
    private static func u32(_ m: [UInt8], _ at: Int) -> UInt32 {
        UInt32(m[at]) | UInt32(m[at + 1]) << 8 | UInt32(m[at + 2]) << 16 | UInt32(m[at + 3]) << 24
    }
}
