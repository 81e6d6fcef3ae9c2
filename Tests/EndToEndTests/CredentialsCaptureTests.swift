import Foundation
import Testing

/// Who authenticated, on real captures: NTLM's names from swaks's AUTHENTICATE message (checked
/// against what the lab's server read from it), and passwords decoded only with
/// `--show-credentials`.
@Suite struct CredentialsCaptureTests {
    @Test func ntlmNamesFromARealClient() throws {
        let truth = try #require(loadJSON(capturesDir.appendingPathComponent("auth-ntlm.truth.json")))
        let ntlm = try #require((truth["notes"] as? [String: Any])?["ntlm"] as? [String: String])
        let r = try runCLI(["read", "--format", "json", "Captures/auth-ntlm.pcap"])
        let session = try #require(r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.first { $0["type"] as? String == "session" })
        let auth = try #require(session["auth"] as? [String: Any])
        #expect(auth["mechanism"] as? String == "NTLM")
        #expect(auth["result"] as? String == "success")
        #expect(auth["user"] as? String == ntlm["user"])
        #expect(auth["domain"] as? String == ntlm["domain"])
        #expect(auth["workstation"] as? String == ntlm["workstation"])
        #expect(auth["password"] == nil)
        let text = try runCLI(["read", "Captures/auth-ntlm.pcap"])
        #expect(text.stdout.contains("AUTH NTLM success (user alice, domain EXAMPLE, workstation alice)"))
    }

    @Test func showCredentialsDecodesThePassword() throws {
        for capture in ["auth-plain", "auth-login"] {
            let shown = try runCLI(["read", "--format", "json", "--show-credentials", "Captures/\(capture).pcap"])
            #expect(shown.stdout.contains("\"user\":\"alice@example.net\",\"result\":\"success\",\"password\":\"not-a-real-password\""), "\(capture)")
            let hidden = try runCLI(["read", "--format", "json", "Captures/\(capture).pcap"])
            #expect(!hidden.stdout.contains("password\":"), "\(capture)")
            #expect(!hidden.stdout.contains("not-a-real-password"))
        }
        let text = try runCLI(["read", "--show-credentials", "Captures/auth-login.pcap"])
        #expect(text.stdout.contains("AUTH LOGIN failure (user alice@example.net, password wrong-fake-password)"))
        #expect(text.stdout.contains("AUTH LOGIN success (user alice@example.net, password not-a-real-password)"))
    }
}
