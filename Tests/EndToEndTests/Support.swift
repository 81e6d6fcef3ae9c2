import Capture
import Pipeline
import Foundation
import Packets
import Sessions
import Testing

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let capturesDir = repoRoot.appendingPathComponent("Captures")
let peerDir = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/peer-captures")
/// Other projects' captures sit beside the repository (../shared/peer-captures), not in it. CI always
/// has them (CI=true makes their absence a failure); a clone on its own runs without these tests.
let peerCapturesExpected = FileManager.default.fileExists(atPath: peerDir.path) || ProcessInfo.processInfo.environment["CI"] != nil

/// Collects everything an analysis produces.
final class Collector: RecordSink {
    var transactions: [(Transaction, Session)] = []
    var sessions: [Session] = []
    func transaction(_ t: Transaction, in session: Session) { transactions.append((t, session)) }
    func session(_ s: Session) { sessions.append(s) }

    func transactions(of s: Session) -> [Transaction] {
        transactions.filter { $0.1.id == s.id }.map(\.0).sorted { $0.index < $1.index }
    }
}

/// Runs the whole pipeline in-process over capture files.
func analyze(_ paths: [String], options: AnalyzerOptions = .init()) -> (Collector, [CaptureError]) {
    let (collector, _, errors) = analyzeCounting(paths, options: options)
    return (collector, errors)
}

/// Runs the pipeline over capture files and returns the packet counters too.
func analyzeWithStats(_ paths: [String], options: AnalyzerOptions = .init()) -> (Collector, PacketStats) {
    let (collector, stats, _) = analyzeCounting(paths, options: options)
    return (collector, stats)
}

private func analyzeCounting(_ paths: [String], options: AnalyzerOptions) -> (Collector, PacketStats, [CaptureError]) {
    let collector = Collector()
    let analyzer = Analyzer(options: options, sink: collector)
    let set = CaptureSet(paths: paths)
    var linkTypes: [Int: LinkType] = [:]
    for f in set.files { linkTypes[f.index] = LinkType(dlt: f.dlt) }
    set.forEach { p in
        if let lt = linkTypes[p.vantage.file] { analyzer.packet(p, linkType: lt) }
    }
    analyzer.finish()
    return (collector, analyzer.packetStats, set.errors)
}

/// The smtpscope binary built next to the tests.
func smtpscopeBinary() -> URL? {
    var candidates: [URL] = []
    let me = URL(fileURLWithPath: CommandLine.arguments[0])
    var dir = me.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("smtpscope"))
        dir = dir.deletingLastPathComponent()
    }
    candidates.append(repoRoot.appendingPathComponent(".build/debug/smtpscope"))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the command line with `arguments`, standard input read from `input` when given. With
/// `prefix` (a command and its arguments, e.g. `timeout 30`), that command runs the binary.
func runCLI(_ arguments: [String], environment: [String: String] = ["NO_COLOR": "1"], input: URL? = nil, prefix: [String] = []) throws -> RunResult {
    let binary = try #require(smtpscopeBinary(), "the smtpscope executable was not built")
    let p = Process()
    if let command = prefix.first {
        p.executableURL = URL(fileURLWithPath: command)
        p.arguments = Array(prefix.dropFirst()) + [binary.path] + arguments
    } else {
        p.executableURL = binary
        p.arguments = arguments
    }
    if let input { p.standardInput = try FileHandle(forReadingFrom: input) }
    p.currentDirectoryURL = repoRoot
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

func loadJSON(_ url: URL) -> [String: Any]? {
    guard let data = try? Data(contentsOf: url) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}
