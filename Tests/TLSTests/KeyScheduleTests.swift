import Testing
@testable import TLS

/// Key schedules against published vectors.
@Suite struct KeyScheduleTests {
    /// TLS 1.2 PRF vectors posted to the IETF TLS working group list (msg03416, "TLS 1.2 PRF test
    /// vectors"), also used by GnuTLS's test suite.
    @Test func tls12PRFSHA256() {
        let out = KeySchedule.prf(.sha256, secret: hex("9bbe436ba940f017b17652849a71db35"), label: "test label", seed: hex("a0ba9f936cda311827a6f796ffd5198c"), count: 100)
        #expect(hexOf(out) == "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
    }

    @Test func tls12PRFSHA384() {
        let out = KeySchedule.prf(.sha384, secret: hex("b80b733d6ceefcdc71566ea48e5567df"), label: "test label", seed: hex("cd665cf6a8447dd6ff8b27555edb7465"), count: 148)
        #expect(hexOf(out) == "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f")
    }

    /// RFC 8448 §3: Derive-Secret from the handshake secret and the ClientHello…ServerHello hash.
    @Test func rfc8448DeriveSecret() {
        let handshakeSecret = hex("1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01 04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac")
        let hash = hex("86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8")
        #expect(KeySchedule.deriveSecret(.sha256, secret: handshakeSecret, label: "c hs traffic", transcriptHash: hash) == RFC8448.clientHandshakeSecret)
        #expect(KeySchedule.deriveSecret(.sha256, secret: handshakeSecret, label: "s hs traffic", transcriptHash: hash) == RFC8448.serverHandshakeSecret)
    }

    /// RFC 8448 §3: traffic keys and IVs from the traffic secrets.
    @Test func rfc8448TrafficKeys() {
        let sh = KeySchedule.trafficKeys(.sha256, secret: RFC8448.serverHandshakeSecret, keyLength: 16)
        #expect(hexOf(sh.key) == "3fce516009c21727d0f2e4e86ee403bc")
        #expect(hexOf(sh.iv) == "5d313eb2671276ee13000b30")
        let ch = KeySchedule.trafficKeys(.sha256, secret: RFC8448.clientHandshakeSecret, keyLength: 16)
        #expect(hexOf(ch.key) == "dbfaa693d1762c5b666af5d950258d01")
        #expect(hexOf(ch.iv) == "5bd3c71b836e0b76bb73265f")
        let sa = KeySchedule.trafficKeys(.sha256, secret: RFC8448.serverApplicationSecret, keyLength: 16)
        #expect(hexOf(sa.key) == "9f02283b6c9c07efc26bb9f2ac92e356")
        #expect(hexOf(sa.iv) == "cf782b88dd83549aadf1e984")
    }

    /// RFC 8446 §7.2: a key update is HKDF-Expand-Label(secret, "traffic upd", "", Hash.length),
    /// which differs from the old secret and has its length.
    @Test func keyUpdateSecret() {
        let next = KeySchedule.nextTrafficSecret(.sha256, secret: RFC8448.clientApplicationSecret)
        #expect(next.count == 32 && next != RFC8448.clientApplicationSecret)
        #expect(next == KeySchedule.hkdfExpandLabel(.sha256, secret: RFC8448.clientApplicationSecret, label: "traffic upd", context: [], length: 32))
    }
}
