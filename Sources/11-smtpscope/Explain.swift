import ArgumentParser
import Findings

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain a finding: what it means, what usually causes it, what to do.",
        discussion: "Without an id, lists every finding smtpscope reports.")

    @Argument(help: ArgumentHelp("A finding id, as shown in the summary (e.g. rset-after-recipients).", valueName: "id"))
    var id: String?

    func run() throws {
        guard let id else {
            for severity in Severity.allCases.reversed() {
                for e in Catalog.all where e.severity == severity {
                    print("\(severity.word.padding(8))  \(e.id.rawValue.padding(30))  \(e.title)")
                }
            }
            return
        }
        guard let e = Catalog.entry(named: id) else {
            var line = Array("smtpscope: no finding is called \(id); `smtpscope explain` lists them\n".utf8)
            line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress!, $0.count) }
            throw ExitCode(1)
        }
        print("\(e.id) (\(e.severity.word)): \(e.title)\n")
        print(wrap(e.explanation, width: 96))
        print("\nReference: \(e.reference)")
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
}
