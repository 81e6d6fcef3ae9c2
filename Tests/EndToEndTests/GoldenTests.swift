import Foundation
import Testing

/// Golden outputs: produced by scripts/update-golden.sh from the code, checked by a person once,
/// then compared on every run so that any change in what a user sees is deliberate.
let goldenCaptures: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: capturesDir.path)) ?? [])
    .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()

@Suite struct GoldenTests {
    @Test(arguments: goldenCaptures)
    func textAndJSONMatchTheGoldenFiles(capture: String) throws {
        let base = (capture as NSString).deletingPathExtension
        let golden = repoRoot.appendingPathComponent("Tests/Golden")
        let text = try String(contentsOf: golden.appendingPathComponent(base + ".txt"), encoding: .utf8)
        let json = try String(contentsOf: golden.appendingPathComponent(base + ".jsonl"), encoding: .utf8)
        let t = try runCLI(["read", "Captures/" + capture])
        #expect(t.status == 0)
        #expect(t.stdout == text, "text output of \(capture) differs from Tests/Golden/\(base).txt (run scripts/update-golden.sh and review the diff)")
        let j = try runCLI(["read", "--format", "json", "Captures/" + capture])
        #expect(j.stdout == json, "JSON output of \(capture) differs from Tests/Golden/\(base).jsonl")
        // Every JSON line parses.
        for line in j.stdout.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil)
        }
    }
}
