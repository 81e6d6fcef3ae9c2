import Findings
import Foundation
import Testing
import Vocabulary

/// `smtpscope explain` covers finding ids and anomaly names, forgivingly spelt.
@Suite struct ExplainTests {
    @Test func anomaliesAreExplained() throws {
        let r = try runCLI(["explain", "bare-lf"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("bare-lf (anomaly, SMTP line)\n\nA command or reply line ended with LF alone (RFC 5321 §2.3.8)."))
        // Case and '_' do not matter.
        #expect(try runCLI(["explain", "BARE_LF"]).stdout == r.stdout)
        #expect(try runCLI(["explain", "Rset_After_Recipients"]).stdout == (try runCLI(["explain", "rset-after-recipients"])).stdout)
    }

    /// A word that is both a finding and an anomaly: both are explained, the finding first.
    @Test func aNameThatIsBoth() throws {
        let r = try runCLI(["explain", "nul-byte"])
        #expect(r.status == 0)
        let finding = try #require(r.stdout.range(of: "nul-byte (warning)"))
        let anomaly = try #require(r.stdout.range(of: "nul-byte (anomaly, SMTP line)"))
        #expect(finding.lowerBound < anomaly.lowerBound)
    }

    @Test func unknownIdSuggestsTheClosest() throws {
        let r = try runCLI(["explain", "bare-lff"])
        #expect(r.status == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == "smtpscope: no finding or anomaly is called bare-lff; did you mean bare-lf? (`smtpscope explain` lists them)\n")
        #expect(Explanations.closest(to: "rset_after_recipient") == "rset-after-recipients")
        #expect(Explanations.closest(to: "TLS-DECRYPTION-FAILD") == "tls-decryption-failed")
    }

    @Test func theListNamesEveryFindingAndAnomaly() throws {
        let r = try runCLI(["explain"])
        let ids = Set(r.stdout.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) })
        #expect(ids == Set(FindingID.all.map(\.rawValue)).union(Anomaly.Name.all.map(\.rawValue)))
        #expect(r.stdout.contains("anomaly   bare-lf                         SMTP line: A command or reply line ended with LF alone (RFC 5321 §2.3.8).\n"))
    }

    /// The catalog `explain` prints and docs/output.md's table say the same, name for name.
    @Test func anomalyCatalogMatchesTheReference() throws {
        #expect(Anomaly.catalog.map(\.name) == Anomaly.Name.all, "every name, in the table's order")
        let doc = DocumentationTests.reference
        // The table under "## Anomalies": the rows after its header, to the first line that is not one.
        let start = try #require(doc.range(of: "## Anomalies"))
        let lines = doc[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0 == "| name | layer | meaning |" })
        let rows = lines[(header + 2)...].prefix { $0.hasPrefix("| `") }
        #expect(rows.count == Anomaly.catalog.count)
        for (row, a) in zip(rows, Anomaly.catalog) {
            #expect(row == "| `\(a.name)` | \(a.layer) | \(a.meaning) |")
        }
    }
}
