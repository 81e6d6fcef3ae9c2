import Findings
import Foundation
import Testing
import Vocabulary

/// docs/output.md names everything the output can hold: every finding id (from the type), every
/// JSON key and every anomaly name (from what the captures produce and from the code that writes
/// them). A name the code gains without a line in the reference fails here, by name.
@Suite struct DocumentationTests {
    static let reference = (try? String(contentsOf: repoRoot.appendingPathComponent("docs/output.md"), encoding: .utf8)) ?? ""

    /// A name counts as documented when the reference writes it as code (`name`) or as a JSON
    /// string ("name", as in `{"code", "enhanced", "text"}`).
    static func documented(_ name: String) -> Bool {
        reference.contains("`\(name)`") || reference.contains("\"\(name)\"")
    }

    /// Every capture the tests know: Captures/ and, where they are, the peer projects' captures.
    static func captures() throws -> [String] {
        var paths: [String] = []
        for dir in [capturesDir] + (peerCapturesExpected ? [peerDir] : []) {
            let walker = try #require(FileManager.default.enumerator(atPath: dir.path), "cannot list \(dir.path)")
            for case let name as String in walker where name.hasSuffix(".pcap") || name.hasSuffix(".pcapng") {
                paths.append(dir.appendingPathComponent(name).path)
            }
        }
        return paths.sorted()
    }

    /// String literals in the sources of `module` that match `pattern` (first capture group).
    static func literals(in module: String, _ pattern: String) throws -> Set<String> {
        let dir = repoRoot.appendingPathComponent("Sources/\(module)")  // a folder: "09-Reporting"
        let regex = try NSRegularExpression(pattern: pattern)
        var found = Set<String>()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let r = Range(m.range(at: 1), in: text) { found.insert(String(text[r])) }
            }
        }
        return found
    }

    /// Collects the keys of every object (recursively) and the names in `anomalies` arrays.
    static func walk(_ value: Any, keys: inout Set<String>, anomalies: inout Set<String>) {
        if let object = value as? [String: Any] {
            for (key, child) in object {
                keys.insert(key)
                // `headers.extra` maps header names the user asked for (--header) to values.
                if key == "extra" { continue }
                if key == "anomalies", let list = child as? [[String: Any]] {
                    for a in list { if let name = a["name"] as? String { anomalies.insert(name) } }
                }
                walk(child, keys: &keys, anomalies: &anomalies)
            }
        } else if let array = value as? [Any] {
            for child in array { walk(child, keys: &keys, anomalies: &anomalies) }
        }
    }

    @Test func everyFindingIdIsDocumented() {
        #expect(!Self.reference.isEmpty, "docs/output.md not found")
        let missing = FindingID.all.map(\.rawValue).filter { !Self.documented($0) }
        #expect(missing.isEmpty, "finding ids missing from docs/output.md: \(missing.joined(separator: ", "))")
    }

    @Test func everyJSONKeyAndAnomalyNameIsDocumented() throws {
        #expect(!Self.reference.isEmpty, "docs/output.md not found")
        var keys = Set<String>()
        var anomalies = Set(Anomaly.Name.all.map(\.rawValue))
        let captures = try Self.captures()
        #expect(captures.count > 40)
        for path in captures {
            let r = try runCLI(["read", "--format", "json", path])
            for line in r.stdout.split(separator: "\n") {
                let value = try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)), "\(path): not JSON: \(line.prefix(80))")
                Self.walk(value, keys: &keys, anomalies: &anomalies)
            }
        }
        // `headers.extra` is written only with --header.
        let extra = try runCLI(["read", "--format", "json", "--header", "mime-version", "Captures/plain-delivery.pcap"])
        for line in extra.stdout.split(separator: "\n") {
            Self.walk(try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8))), keys: &keys, anomalies: &anomalies)
        }
        #expect(keys.contains("extra") && keys.contains("combined_from") && keys.contains("verdict"), "the captures produce every record type")
        // Keys the JSON writer can write whether or not a capture shows them, and anomaly names as
        // the code spells them.
        keys.formUnion(try Self.literals(in: "09-Reporting", #"\.key\("([a-z0-9_]+)"\)"#))
        anomalies.formUnion(Anomaly.Name.all.map(\.rawValue))
        let missingKeys = keys.sorted().filter { !Self.documented($0) }
        #expect(missingKeys.isEmpty, "JSON keys missing from docs/output.md: \(missingKeys.joined(separator: ", "))")
        let missingNames = anomalies.sorted().filter { !Self.documented($0) }
        #expect(missingNames.isEmpty, "anomaly names missing from docs/output.md: \(missingNames.joined(separator: ", "))")
    }
}
