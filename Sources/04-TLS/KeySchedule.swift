import Crypto

/// The key schedules, written from the RFCs: the TLS 1.2 PRF and key block (RFC 5246 §5, §6.3)
/// and the TLS 1.3 HKDF-Expand-Label / Derive-Secret, traffic keys and key updates (RFC 8446
/// §7.1–§7.3). The primitives (HMAC, HKDF-Expand) are swift-crypto's.
public enum KeySchedule {
    // MARK: TLS 1.2

    /// RFC 5246 §5:
    ///
    ///     P_hash(secret, seed) = HMAC_hash(secret, A(1) + seed) + HMAC_hash(secret, A(2) + seed) + …
    ///     A(0) = seed, A(i) = HMAC_hash(secret, A(i-1))
    ///     PRF(secret, label, seed) = P_<hash>(secret, label + seed)
    public static func prf(_ hash: SuiteHash, secret: [UInt8], label: String, seed: [UInt8], count: Int) -> [UInt8] {
        switch hash {
        case .sha256: return pHash(SHA256.self, secret: secret, seed: Array(label.utf8) + seed, count: count)
        case .sha384: return pHash(SHA384.self, secret: secret, seed: Array(label.utf8) + seed, count: count)
        }
    }

    private static func pHash<H: HashFunction>(_: H.Type, secret: [UInt8], seed: [UInt8], count: Int) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        var out: [UInt8] = []
        out.reserveCapacity(count + H.Digest.byteCount)
        var a = Array(HMAC<H>.authenticationCode(for: seed, using: key))
        while out.count < count {
            out += HMAC<H>.authenticationCode(for: a + seed, using: key)
            a = Array(HMAC<H>.authenticationCode(for: a, using: key))
        }
        return Array(out.prefix(count))
    }

    /// RFC 5246 §6.3: `key_block = PRF(master_secret, "key expansion", server_random + client_random)`.
    public static func keyBlock(_ hash: SuiteHash, masterSecret: [UInt8], clientRandom: [UInt8], serverRandom: [UInt8], count: Int) -> [UInt8] {
        prf(hash, secret: masterSecret, label: "key expansion", seed: serverRandom + clientRandom, count: count)
    }

    // MARK: TLS 1.3

    /// RFC 8446 §7.1:
    ///
    ///     HKDF-Expand-Label(Secret, Label, Context, Length) = HKDF-Expand(Secret, HkdfLabel, Length)
    ///     struct { uint16 length = Length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255> = Context; } HkdfLabel;
    public static func hkdfExpandLabel(_ hash: SuiteHash, secret: [UInt8], label: String, context: [UInt8], length: Int) -> [UInt8] {
        let fullLabel = Array("tls13 ".utf8) + Array(label.utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xff), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        let prk = SymmetricKey(data: secret)
        let okm: SymmetricKey
        switch hash {
        case .sha256: okm = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: info, outputByteCount: length)
        case .sha384: okm = HKDF<SHA384>.expand(pseudoRandomKey: prk, info: info, outputByteCount: length)
        }
        return okm.withUnsafeBytes { Array($0) }
    }

    /// RFC 8446 §7.1: `Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label,
    /// Transcript-Hash(Messages), Hash.length)`; the transcript hash is passed in.
    public static func deriveSecret(_ hash: SuiteHash, secret: [UInt8], label: String, transcriptHash: [UInt8]) -> [UInt8] {
        hkdfExpandLabel(hash, secret: secret, label: label, context: transcriptHash, length: hash.length)
    }

    /// RFC 8446 §7.3: `write_key = HKDF-Expand-Label(Secret, "key", "", key_length)`,
    /// `write_iv = HKDF-Expand-Label(Secret, "iv", "", iv_length)`; the IV is 12 bytes for every AEAD here.
    public static func trafficKeys(_ hash: SuiteHash, secret: [UInt8], keyLength: Int) -> (key: [UInt8], iv: [UInt8]) {
        (hkdfExpandLabel(hash, secret: secret, label: "key", context: [], length: keyLength),
         hkdfExpandLabel(hash, secret: secret, label: "iv", context: [], length: 12))
    }

    /// RFC 8446 §7.2: `application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)`.
    public static func nextTrafficSecret(_ hash: SuiteHash, secret: [UInt8]) -> [UInt8] {
        hkdfExpandLabel(hash, secret: secret, label: "traffic upd", context: [], length: hash.length)
    }
}
