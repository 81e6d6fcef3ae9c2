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
        // At the width scripts/update-golden.sh uses.
        let t = try runCLI(["read", "--width", "120", "Captures/" + capture])
        #expect(t.status == 0)
        #expect(firstDifference(t.stdout, text) == nil, "text output of \(capture) differs from Tests/Golden/\(base).txt (run scripts/update-golden.sh and review the diff)")
        let j = try runCLI(["read", "--format", "json", "Captures/" + capture])
        #expect(firstDifference(j.stdout, json) == nil, "JSON output of \(capture) differs from Tests/Golden/\(base).jsonl")
        // Every JSON line parses.
        for line in j.stdout.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil)
        }
    }
}

/// The first line where `got` and `want` differ, shown both ways; nil when they are equal.
func firstDifference(_ got: String, _ want: String) -> String? {
    guard got != want else { return nil }
    let g = got.split(separator: "\n", omittingEmptySubsequences: false), w = want.split(separator: "\n", omittingEmptySubsequences: false)
    for i in 0..<max(g.count, w.count) {
        let a = i < g.count ? String(g[i]) : "(end)", b = i < w.count ? String(w[i]) : "(end)"
        if a != b { return "line \(i + 1):\n  got:  \(a.prefix(300))\n  want: \(b.prefix(300))" }
    }
    return "outputs differ"
}
