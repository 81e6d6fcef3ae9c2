import Crypto

/// JA3 and JA3S (salesforce/ja3, BSD-3-Clause) and JA4 (FoxIO-LLC/ja4 `technical_details/JA4.md`,
/// BSD-3-Clause; the client fingerprint only — JA4S, JA4X and the other JA4+ methods are under
/// another licence and are not implemented).
public enum Fingerprint {
    /// JA3 text: `version,ciphers,extensions,groups,point formats` in decimal, values joined by `-`,
    /// GREASE values left out, lists in the order sent. `version` is the ClientHello's
    /// `legacy_version`. Empty lists leave their field empty.
    public static func ja3Text(_ hello: ClientHello) -> String {
        let ciphers = hello.cipherSuites.filter { !isGREASE($0) }.map(String.init).joined(separator: "-")
        let extensions = hello.extensions.map(\.type).filter { !isGREASE($0) }.map(String.init).joined(separator: "-")
        let groups = hello.supportedGroups.filter { !isGREASE($0) }.map(String.init).joined(separator: "-")
        let formats = hello.ecPointFormats.map(String.init).joined(separator: "-")
        return "\(hello.legacyVersion),\(ciphers),\(extensions),\(groups),\(formats)"
    }

    /// JA3: lower-case hex MD5 of ``ja3Text(_:)``.
    public static func ja3(_ hello: ClientHello) -> String { md5Hex(ja3Text(hello)) }

    /// JA3S text: `version,cipher,extensions` of the ServerHello (`legacy_version`, decimal, GREASE left out).
    public static func ja3sText(_ hello: ServerHello) -> String {
        let extensions = hello.extensions.map(\.type).filter { !isGREASE($0) }.map(String.init).joined(separator: "-")
        return "\(hello.legacyVersion),\(hello.cipherSuite),\(extensions)"
    }

    /// JA3S: lower-case hex MD5 of ``ja3sText(_:)``.
    public static func ja3s(_ hello: ServerHello) -> String { md5Hex(ja3sText(hello)) }

    /// JA4 of a ClientHello carried over TCP (`t…`):
    /// `t` + version + `d`/`i` (SNI or not) + cipher count + extension count + ALPN first/last
    /// character, `_`, the first 12 hex digits of SHA-256 of the sorted cipher list, `_`, the first
    /// 12 of SHA-256 of the sorted extension list (without SNI and ALPN) `_` signature algorithms
    /// in the order sent. GREASE values are ignored everywhere.
    public static func ja4(_ hello: ClientHello) -> String {
        let ciphers = hello.cipherSuites.filter { !isGREASE($0) }
        let extensions = hello.extensions.map(\.type).filter { !isGREASE($0) }
        let version: String
        switch hello.highestVersion {
        case 0x0304: version = "13"
        case 0x0303: version = "12"
        case 0x0302: version = "11"
        case 0x0301: version = "10"
        case 0x0300: version = "s3"
        case 0x0002: version = "s2"
        case 0xfeff: version = "d1"
        case 0xfefd: version = "d2"
        case 0xfefc: version = "d3"
        default: version = "00"
        }
        let sni = extensions.contains(ExtensionType.serverName) ? "d" : "i"
        let a = "t" + version + sni + twoDigits(ciphers.count) + twoDigits(extensions.count) + alpnChars(hello.firstALPNBytes)

        let b = ciphers.isEmpty ? "000000000000" : sha256Prefix(ciphers.sorted().map(hexDigits).joined(separator: ","))

        let sortedExtensions = extensions.filter { $0 != ExtensionType.serverName && $0 != ExtensionType.alpn }.sorted()
        let c: String
        if sortedExtensions.isEmpty {
            c = "000000000000"
        } else {
            var text = sortedExtensions.map(hexDigits).joined(separator: ",")
            let sigs = hello.signatureAlgorithms.filter { !isGREASE($0) }
            if !sigs.isEmpty { text += "_" + sigs.map(hexDigits).joined(separator: ",") }
            c = sha256Prefix(text)
        }
        return a + "_" + b + "_" + c
    }

    /// The two ALPN characters of JA4: first and last byte of the first ALPN value when both are
    /// ASCII letters or digits, else the first and last hex digit of its hex form; `00` without one.
    static func alpnChars(_ first: [UInt8]?) -> String {
        guard let value = first, let head = value.first, let tail = value.last else { return "00" }
        func alnum(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b) }
        if alnum(head) && alnum(tail) {
            return String(decoding: [head, tail], as: UTF8.self)
        }
        let hex = hexString(value)
        return String(hex.first ?? "0") + String(hex.last ?? "0")
    }

    private static func twoDigits(_ n: Int) -> String {
        let v = min(n, 99)
        return v < 10 ? "0\(v)" : "\(v)"
    }

    private static func sha256Prefix(_ text: String) -> String {
        String(hexString(Array(SHA256.hash(data: Array(text.utf8)))).prefix(12))
    }

    private static func md5Hex(_ text: String) -> String {
        hexString(Array(Insecure.MD5.hash(data: Array(text.utf8))))
    }
}
