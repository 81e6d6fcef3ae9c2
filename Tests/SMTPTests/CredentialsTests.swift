import Testing
@testable import SMTP
import Vocabulary
import Sessions

/// Who authenticated, read from the AUTH responses: user names always, passwords only when asked,
/// NTLM's names from the AUTHENTICATE message (MS-NLMP 2.2.1.3).
@Suite struct CredentialsTests {
    /// The AUTHENTICATE message swaks (Authen::NTLM 1.09) sent in Captures/auth-ntlm.pcap: user
    /// alice, domain EXAMPLE, workstation alice, NEGOTIATE_UNICODE set, no Version field.
    static let authenticate = "TlRMTVNTUAADAAAAGAAYAEAAAAAYABgAWAAAAA4ADgBwAAAACgAKAH4AAAAKAAoAiAAAAAAAAABSAAAABYKBADcAzn+RbXxcJ6NbkCvXO2haGqJbKxd+sCNJ5xQoNYT9himuMg3E/lWXmKBv9zN+5UUAWABBAE0AUABMAEUAYQBsAGkAYwBlAGEAbABpAGMAZQA="
    static let negotiate = "TlRMTVNTUAABAAAAB6IAAAAAAAAAAAAAAAAAAAAAAAA="

    /// An AUTHENTICATE message laid out by hand: names in `names` order domain, user, workstation
    /// after a 64-byte header, with the flags given.
    static func message(domain: [UInt8], user: [UInt8], workstation: [UInt8], flags: UInt32) -> [UInt8] {
        var m = Array("NTLMSSP\0".utf8) + [3, 0, 0, 0]
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16) }
        var offset = 64
        var payload: [UInt8] = []
        func field(_ bytes: [UInt8]) -> [UInt8] {
            defer { offset += bytes.count; payload += bytes }
            return le16(bytes.count) + le16(bytes.count) + le32(offset)
        }
        m += field([]) + field([])  // LM and NT responses
        m += field(domain) + field(user) + field(workstation) + field([])
        m += le32(Int(flags))
        return m + payload
    }

    @Test func ntlmAuthenticateFromARealClient() throws {
        let bytes = try #require(Base64.decode(Array(Self.authenticate.utf8)))
        #expect(NTLMIdentity(authenticate: bytes) == NTLMIdentity(user: "alice", domain: "EXAMPLE", workstation: "alice"))
        // The NEGOTIATE message names nobody.
        #expect(NTLMIdentity(authenticate: try #require(Base64.decode(Array(Self.negotiate.utf8)))) == nil)
    }

    @Test func ntlmOEMAndUnicodeNames() {
        let utf16: ([UInt8]) -> [UInt8] = { $0.flatMap { [$0, 0] } }
        let unicode = Self.message(domain: utf16(Array("CORP".utf8)), user: Array("Zoë".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }, workstation: utf16(Array("WS01".utf8)), flags: 0x0008_8201)
        #expect(NTLMIdentity(authenticate: unicode) == NTLMIdentity(user: "Zoë", domain: "CORP", workstation: "WS01"))
        // OEM (no NEGOTIATE_UNICODE): one byte a character, read as Latin-1.
        let oem = Self.message(domain: Array("CORP".utf8), user: [0x5a, 0x6f, 0xeb], workstation: Array("WS01".utf8), flags: 0x0008_8202)
        #expect(NTLMIdentity(authenticate: oem) == NTLMIdentity(user: "Zoë", domain: "CORP", workstation: "WS01"))
    }

    @Test func ntlmDamagedMessages() throws {
        let good = try #require(Base64.decode(Array(Self.authenticate.utf8)))
        #expect(NTLMIdentity(authenticate: Array(good.prefix(51))) == nil, "shorter than the header")
        #expect(NTLMIdentity(authenticate: Array(good.prefix(130))) == nil, "a name runs past the end")
        var bad = good
        bad[40] = 0xff  // the user name's offset far outside the message
        #expect(NTLMIdentity(authenticate: bad) == nil)
        let control = Self.message(domain: [], user: [0x07, 0], workstation: [], flags: 1)
        #expect(NTLMIdentity(authenticate: control) == nil, "a name with a control character")
        let anonymous = Self.message(domain: [], user: [], workstation: [], flags: 1)
        #expect(NTLMIdentity(authenticate: anonymous) == nil, "anonymous: no user")
    }

    static let ntlm = Dialogue([
        .server(greeting), .client("EHLO c\r\n"), .server("250-x\r\n250 AUTH NTLM\r\n"),
        .client("AUTH NTLM\r\n"), .server("334 \r\n"),
        .client(negotiate + "\r\n"), .server("334 TlRMTVNTUAACAAAADgAOADAAAAAFgoEAASNFZ4mrze8AAAAAAAAAABYAFgA+AAAARQBYAEEATQBQAEwARQACAA4ARQBYAEEATQBQAEwARQAAAAAA\r\n"),
        .client(authenticate + "\r\n"), .server("235 2.7.0 Authentication successful\r\n"),
        .client("QUIT\r\n"), .server("221 bye\r\n"),
    ])

    @Test func ntlmExchangeNamesTheUserWithoutShowingCredentials() {
        let (s, _) = Self.ntlm.run()
        #expect(s.auth?.mechanism == "NTLM")
        #expect(s.auth?.user == "alice")
        #expect(s.auth?.domain == "EXAMPLE")
        #expect(s.auth?.workstation == "alice")
        #expect(s.auth?.password == nil)
        #expect(s.auth?.result == .success)
    }

    @Test func passwordsOnlyWhenShown() {
        var show = SMTPDecoder.Options()
        show.redactCredentials = false
        let plain = DecoderTests.authIsRedactedAndUserKept
        #expect(plain.run().0.auth?.password == nil)
        #expect(plain.run(options: show).0.auth.map { ($0.user, $0.password) } ?? (nil, nil) == ("alice", "secret-password"))
        let login = DecoderTests.authIsRedactedAndUserKeptLogin
        #expect(login.run().0.auth?.password == nil)
        #expect(login.run(options: show).0.auth.map { ($0.user, $0.password) } ?? (nil, nil) == ("bob", "hunter2"))
        // With an initial response, LOGIN's first 334 asks for the password.
        let initial = DecoderTests.loginWithInitialResponseDoesNotLeakThePasswordAsUser
        #expect(initial.run(options: show).0.auth.map { ($0.user, $0.password) } ?? (nil, nil) == ("carol", "pa55"))
    }

    @Test func cramMD5NamesItsUser() {
        let cram = Dialogue([
            .server(greeting), .client("EHLO c\r\n"), .server("250 AUTH CRAM-MD5\r\n"),
            .client("AUTH CRAM-MD5\r\n"), .server("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
            // RFC 2195's example response: "tim b913a602c7eda7a495b4e6e7334d3890"
            .client("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"), .server("235 ok\r\n"),
        ])
        #expect(cram.run().0.auth?.user == "tim")
    }
}
