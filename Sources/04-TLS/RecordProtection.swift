import Crypto
import Foundation
import _CryptoExtras

/// Why a protected record could not be read. Each is reported as an anomaly; the direction is
/// then reported as encrypted from that record on.
public enum DecryptionFailure: String, Error, Sendable, Equatable {
    /// The AEAD tag or the HMAC did not verify (wrong keys, or bytes changed in transit or lost).
    case authentication = "authentication-failed"
    /// The record is too short for its nonce, tag, IV or MAC, or not a whole number of blocks.
    case malformed = "malformed"
    /// CBC padding bytes are not all equal to the padding length.
    case badPadding = "bad-padding"
    /// TLS 1.3: the inner plaintext is all zeros (no content type).
    case noContentType = "no-content-type"
}

/// Removes the protection of one direction's records with one set of keys, counting sequence
/// numbers from 0 (RFC 5246 §6.1; RFC 8446 §5.3).
struct RecordDecryptor {
    enum Scheme {
        /// TLS 1.3 (RFC 8446 §5.2–5.4): nonce = IV xor sequence number; the record header is the
        /// additional data; the plaintext ends with the real content type and zero padding.
        case tls13(aead: AEAD, iv: [UInt8])
        /// TLS 1.2 AES-GCM (RFC 5288 §3): nonce = 4-byte salt from the key block + 8-byte explicit
        /// nonce at the head of each record.
        case tls12GCM(key: SymmetricKey, salt: [UInt8])
        /// TLS 1.2 ChaCha20-Poly1305 (RFC 7905 §2): nonce = 12-byte IV xor sequence number.
        case tls12ChaCha(key: SymmetricKey, iv: [UInt8])
        /// TLS 1.2 AES-CBC with HMAC; `encryptThenMAC` per RFC 7366, else MAC-then-encrypt (RFC 5246 §6.2.3.2).
        case tls12CBC(key: SymmetricKey, macKey: SymmetricKey, mac: MACAlgorithm, encryptThenMAC: Bool)
    }

    enum AEAD {
        case aesGCM(SymmetricKey)
        case chaCha(SymmetricKey)
    }

    let scheme: Scheme
    private(set) var sequence: UInt64 = 0

    init(scheme: Scheme) { self.scheme = scheme }

    /// TLS 1.3 keys from a traffic secret; nil for a suite this layer cannot decrypt.
    static func tls13(suite: CipherSuite, secret: [UInt8]) -> RecordDecryptor? {
        switch suite.protection {
        case .aesGCM(let keyLength):
            let k = KeySchedule.trafficKeys(suite.hash, secret: secret, keyLength: keyLength)
            return RecordDecryptor(scheme: .tls13(aead: .aesGCM(SymmetricKey(data: k.key)), iv: k.iv))
        case .chaCha20Poly1305:
            let k = KeySchedule.trafficKeys(suite.hash, secret: secret, keyLength: 32)
            return RecordDecryptor(scheme: .tls13(aead: .chaCha(SymmetricKey(data: k.key)), iv: k.iv))
        case .aesCBC, .unsupported:
            return nil
        }
    }

    /// TLS 1.2 keys for both directions from the master secret (RFC 5246 §6.3 key block:
    /// client MAC key, server MAC key, client key, server key, client IV, server IV).
    static func tls12(suite: CipherSuite, masterSecret: [UInt8], clientRandom: [UInt8], serverRandom: [UInt8], encryptThenMAC: Bool) -> (client: RecordDecryptor, server: RecordDecryptor)? {
        let macLength: Int, keyLength: Int, ivLength: Int
        switch suite.protection {
        case .aesGCM(let k): (macLength, keyLength, ivLength) = (0, k, 4)
        case .chaCha20Poly1305: (macLength, keyLength, ivLength) = (0, 32, 12)
        case .aesCBC(let k, let mac): (macLength, keyLength, ivLength) = (mac.length, k, 16)
        case .unsupported: return nil
        }
        let block = KeySchedule.keyBlock(suite.hash, masterSecret: masterSecret, clientRandom: clientRandom, serverRandom: serverRandom,
                                         count: 2 * (macLength + keyLength + ivLength))
        var at = 0
        func take(_ n: Int) -> [UInt8] {
            defer { at += n }
            return Array(block[at..<(at + n)])
        }
        let clientMAC = take(macLength), serverMAC = take(macLength)
        let clientKey = SymmetricKey(data: take(keyLength)), serverKey = SymmetricKey(data: take(keyLength))
        let clientIV = take(ivLength), serverIV = take(ivLength)
        switch suite.protection {
        case .aesGCM:
            return (RecordDecryptor(scheme: .tls12GCM(key: clientKey, salt: clientIV)), RecordDecryptor(scheme: .tls12GCM(key: serverKey, salt: serverIV)))
        case .chaCha20Poly1305:
            return (RecordDecryptor(scheme: .tls12ChaCha(key: clientKey, iv: clientIV)), RecordDecryptor(scheme: .tls12ChaCha(key: serverKey, iv: serverIV)))
        case .aesCBC(_, let mac):
            return (
                RecordDecryptor(scheme: .tls12CBC(key: clientKey, macKey: SymmetricKey(data: clientMAC), mac: mac, encryptThenMAC: encryptThenMAC)),
                RecordDecryptor(scheme: .tls12CBC(key: serverKey, macKey: SymmetricKey(data: serverMAC), mac: mac, encryptThenMAC: encryptThenMAC))
            )
        case .unsupported:
            return nil
        }
    }

    /// Decrypts and authenticates one record. On success the sequence number advances and the
    /// real content type and plaintext are returned.
    mutating func open(_ record: TLSRecord) -> Result<(type: UInt8, plaintext: [UInt8]), DecryptionFailure> {
        let result: Result<(type: UInt8, plaintext: [UInt8]), DecryptionFailure>
        switch scheme {
        case .tls13(let aead, let iv):
            result = openTLS13(record, aead: aead, iv: iv)
        case .tls12GCM(let key, let salt):
            result = openGCM12(record, key: key, salt: salt)
        case .tls12ChaCha(let key, let iv):
            result = openChaCha12(record, key: key, iv: iv)
        case .tls12CBC(let key, let macKey, let mac, let etm):
            result = openCBC12(record, key: key, macKey: macKey, mac: mac, encryptThenMAC: etm)
        }
        if case .success = result { sequence &+= 1 }
        return result
    }

    private var sequenceBytes: [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * $0)) } }

    /// The per-record nonce of RFC 8446 §5.3 and RFC 7905: the sequence number, left-padded to the
    /// IV's length, xor the IV.
    private func xorNonce(_ iv: [UInt8]) -> [UInt8] {
        var nonce = iv
        let seq = sequenceBytes
        for i in 0..<8 { nonce[nonce.count - 8 + i] ^= seq[i] }
        return nonce
    }

    /// The TLS 1.2 additional data: seq_num + type + version + length (RFC 5246 §6.2.3.3).
    private func additionalData12(_ record: TLSRecord, length: Int) -> [UInt8] {
        sequenceBytes + [record.type, UInt8(record.version >> 8), UInt8(record.version & 0xff), UInt8(length >> 8), UInt8(length & 0xff)]
    }

    private func openTLS13(_ record: TLSRecord, aead: AEAD, iv: [UInt8]) -> Result<(type: UInt8, plaintext: [UInt8]), DecryptionFailure> {
        let f = record.fragment
        guard f.count >= 17 else { return .failure(.malformed) }
        let ciphertext = f[..<(f.count - 16)], tag = f[(f.count - 16)...]
        guard let inner = aeadOpen(aead, nonce: xorNonce(iv), ciphertext: ciphertext, tag: tag, aad: record.header) else {
            return .failure(.authentication)
        }
        // TLSInnerPlaintext: content, the real type, then zeros (RFC 8446 §5.4).
        guard let last = inner.lastIndex(where: { $0 != 0 }) else { return .failure(.noContentType) }
        return .success((inner[last], Array(inner[..<last])))
    }

    private func openGCM12(_ record: TLSRecord, key: SymmetricKey, salt: [UInt8]) -> Result<(type: UInt8, plaintext: [UInt8]), DecryptionFailure> {
        let f = record.fragment
        guard f.count >= 8 + 16 else { return .failure(.malformed) }
        let nonce = salt + f[..<8]
        let ciphertext = f[8..<(f.count - 16)], tag = f[(f.count - 16)...]
        let aad = additionalData12(record, length: ciphertext.count)
        guard let plain = aeadOpen(.aesGCM(key), nonce: nonce, ciphertext: ciphertext, tag: tag, aad: aad) else { return .failure(.authentication) }
        return .success((record.type, plain))
    }

    private func openChaCha12(_ record: TLSRecord, key: SymmetricKey, iv: [UInt8]) -> Result<(type: UInt8, plaintext: [UInt8]), DecryptionFailure> {
        let f = record.fragment
        guard f.count >= 16 else { return .failure(.malformed) }
        let ciphertext = f[..<(f.count - 16)], tag = f[(f.count - 16)...]
        let aad = additionalData12(record, length: ciphertext.count)
        guard let plain = aeadOpen(.chaCha(key), nonce: xorNonce(iv), ciphertext: ciphertext, tag: tag, aad: aad) else { return .failure(.authentication) }
        return .success((record.type, plain))
    }

    private func aeadOpen(_ aead: AEAD, nonce: [UInt8], ciphertext: ArraySlice<UInt8>, tag: ArraySlice<UInt8>, aad: [UInt8]) -> [UInt8]? {
        switch aead {
        case .aesGCM(let key):
            guard let n = try? AES.GCM.Nonce(data: nonce), let box = try? AES.GCM.SealedBox(nonce: n, ciphertext: ciphertext, tag: tag),
                let plain = try? AES.GCM.open(box, using: key, authenticating: aad)
            else { return nil }
            return Array(plain)
        case .chaCha(let key):
            guard let n = try? ChaChaPoly.Nonce(data: nonce), let box = try? ChaChaPoly.SealedBox(nonce: n, ciphertext: ciphertext, tag: tag),
                let plain = try? ChaChaPoly.open(box, using: key, authenticating: aad)
            else { return nil }
            return Array(plain)
        }
    }

    /// AES-CBC records of TLS 1.1/1.2: an explicit 16-byte IV, then the ciphertext.
    ///
    /// MAC-then-encrypt (RFC 5246 §6.2.3.2): decrypt, check and strip the padding
    /// (`padding_length + 1` bytes, each equal to `padding_length`), then the MAC is the last
    /// `mac_length` bytes, over seq_num + type + version + length + content.
    /// Encrypt-then-MAC (RFC 7366 §3): the MAC is the last `mac_length` bytes of the record, over
    /// seq_num + type + version + length of (IV + ciphertext) + IV + ciphertext; decrypt after it verifies.
    private func openCBC12(_ record: TLSRecord, key: SymmetricKey, macKey: SymmetricKey, mac: MACAlgorithm, encryptThenMAC: Bool) -> Result<(type: UInt8, plaintext: [UInt8]), DecryptionFailure> {
        let f = record.fragment
        var body = f[...]
        if encryptThenMAC {
            guard f.count >= 16 + 16 + mac.length else { return .failure(.malformed) }
            body = f[..<(f.count - mac.length)]
            let expected = hmac(mac, key: macKey, data: additionalData12(record, length: body.count) + body)
            guard expected.elementsEqual(f[(f.count - mac.length)...]) else { return .failure(.authentication) }
        }
        guard body.count >= 32, body.count % 16 == 0 else { return .failure(.malformed) }
        let ivBytes = body.prefix(16), ciphertext = body.dropFirst(16)
        guard let iv = try? AES._CBC.IV(ivBytes: ivBytes),
            let plain = try? AES._CBC.decrypt(ciphertext, using: key, iv: iv, noPadding: true)
        else { return .failure(.malformed) }
        let p = Array(plain)
        guard let padLength = p.last.map(Int.init), padLength + 1 <= p.count else { return .failure(.badPadding) }
        guard p[(p.count - padLength - 1)...].allSatisfy({ Int($0) == padLength }) else { return .failure(.badPadding) }
        let unpadded = p[..<(p.count - padLength - 1)]
        if encryptThenMAC { return .success((record.type, Array(unpadded))) }
        guard unpadded.count >= mac.length else { return .failure(.malformed) }
        let content = unpadded[..<(unpadded.count - mac.length)]
        let expected = hmac(mac, key: macKey, data: additionalData12(record, length: content.count) + content)
        guard expected.elementsEqual(unpadded[(unpadded.count - mac.length)...]) else { return .failure(.authentication) }
        return .success((record.type, Array(content)))
    }

    private func hmac(_ mac: MACAlgorithm, key: SymmetricKey, data: [UInt8]) -> [UInt8] {
        switch mac {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .sha384: return Array(HMAC<SHA384>.authenticationCode(for: data, using: key))
        }
    }
}
