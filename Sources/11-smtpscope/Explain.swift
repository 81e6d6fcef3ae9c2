import ArgumentParser
import Findings
import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a finding or an anomaly: what it means, what usually causes it, what to do.",
        discussion: """
            Without an id, lists every finding and every anomaly smtpscope reports. Ids match \
            without regard to case, and '_' stands for '-'. A few words name both a finding and \
            an anomaly; both are explained.
            """)

    @Argument(help: ArgumentHelp("A finding id or anomaly name, as shown in the output (e.g. rset-after-recipients, bare-lf).", valueName: "id"))
    var id: String?

    func run() throws {
        guard let id else {
            for severity in Severity.allCases.reversed() {
                for e in Catalog.all where e.severity == severity {
                    print("\(severity.word.padding(8))  \(e.id.rawValue.padding(30))  \(e.title)")
                }
            }
            for a in Anomaly.catalog {
                print("\("anomaly".padding(8))  \(a.name.rawValue.padding(30))  \(a.layer): \(Self.firstSentence(a.meaning))")
            }
            return
        }
        let match = Explanations.lookup(id)
        guard !match.isEmpty else {
            // A usage error, in one line: the closest id is most often what was meant.
            var line = Array("smtpscope: no finding or anomaly is called \(id); did you mean \(Explanations.closest(to: id))? (`smtpscope explain` lists them)\n".utf8)
            line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress!, $0.count) }
            throw ExitCode(64)
        }
        if let e = match.finding {
            print("\(e.id) (\(e.severity.word)): \(e.title)\n")
            print(wrap(e.explanation, width: 96))
            print("\nReference: \(e.reference)")
        }
        if let a = match.anomaly {
            if match.finding != nil { print("") }
            print("\(a.name) (anomaly, \(a.layer))\n")
            print(wrap(a.meaning.replacingBackquotes(), width: 96))
            print("\nAnomalies are what the decoder met in the traffic; they are listed in each session's `anomalies`.".replacingBackquotes())
        }
    }

    /// The meaning's first sentence, for the list.
    static func firstSentence(_ text: String) -> String {
        let plain = text.replacingBackquotes()
        guard let end = plain.range(of: ". ") else { return plain }
        return String(plain[..<end.lowerBound]) + "."
    }

    private func wrap(_ text: String, width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.count + word.count + 1 > width, !line.isEmpty {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }

    /// Markdown's code quotes left out for the terminal.
    func replacingBackquotes() -> String { String(filter { $0 != "`" }) }
}
