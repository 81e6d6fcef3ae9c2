import ArgumentParser
import Correlation
import Findings
import Reporting
import Vocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Correlate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pair the legs of intercepted connections from the JSON of several capture points.",
        discussion: """
            Each input is the output of 'smtpscope read --format json' (or live) at one capture \
            point, or several; only its 'leg' records are read. The legs are merged in the order \
            their sessions ended and paired as 'read' pairs the sessions of captures read \
            together: the same intercept and same-connection records and findings, then each \
            capture point's clock against a reference capture point (offset and drift, from the \
            pairs between them). Captures are told apart by the capture file name in each leg.

            Legs are held only within the pairing window (30 minutes of capture time), not for \
            the whole input; each input must be in the order read wrote it. The pairs found are \
            held to the end, as read holds them. Legs divided among several \
            runs by their 'key' (the envelope sender, else the greeting) give the same pairs as \
            one run over all of them, but for legs tied only by lines that sessions in other \
            runs share (docs/output.md).

            '-' reads standard input. Exit status: 0 when every input was read; 1 when an input \
            could not be read or held a damaged leg record (what could be read is still \
            correlated); 64 for a usage error.
            """)

    @Argument(help: ArgumentHelp("JSON lines written by 'smtpscope read --format json'; '-' for standard input.", valueName: "file"))
    var files: [String]

    /// The records correlate writes are read's own: its text and JSON, not the other tools' formats.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: "Output format: text (ladders for people) or json (one JSON object per line).")
    var format: Format = .text

    @Option(help: ArgumentHelp("Pair the legs of intercepted connections: auto (when the evidence is strong), always (on any consistent evidence) or never.", valueName: "mode"))
    var pairing: InterceptFinder.Mode = .auto

    @Flag(help: "Never colour the text output (colour is used only on a terminal, and never when NO_COLOR is set).")
    var noColor = false

    func run() throws {
        var failed = false
        var inputs: [LegInput] = []
        for path in files {
            if let input = LegInput(path: path) {
                inputs.append(input)
            } else {
                reportLine("\(path): \(String(cString: strerror(errno)))")
                failed = true
            }
        }
        let finder = InterceptFinder(mode: pairing)
        // Capture points are named by the file each leg was read from, whatever input carries it.
        var captureNames: [String] = []
        var captureNumber: [String: Int] = [:]
        var legs = 0
        // Each input's next leg; the one whose session ended first is paired next (ties: input order).
        var heads = inputs.map { $0.next() }
        while true {
            var pick: Int?
            for k in heads.indices {
                guard let h = heads[k] else { continue }
                if let p = pick, let best = heads[p], best.end <= h.end { continue }
                pick = k
            }
            guard let k = pick, let leg = heads[k] else { break }
            let capture: Int
            if let n = captureNumber[leg.captureFile] {
                capture = n
            } else {
                capture = captureNames.count
                captureNumber[leg.captureFile] = capture
                captureNames.append(leg.captureFile)
            }
            legs += 1
            // Legs that come a window of capture time after later legs of their input may have
            // missed partners already let go: said, not fatal (the pairs found are still right).
            if leg.end < inputs[k].latest.adding(seconds: -finder.window) { inputs[k].late += 1 }
            inputs[k].latest = max(inputs[k].latest, leg.end)
            finder.add(leg.make(legs, capture))
            heads[k] = inputs[k].next()
        }
        for input in inputs {
            if let e = input.error {
                reportLine("\(input.name): \(e)")
                failed = true
            }
            if input.late > 0 {
                reportLine("\(input.name): \(input.late) leg\(input.late == 1 ? "" : "s") came more than \(Int(finder.window / 60)) minutes of capture time after later ones, so pairs with legs let go before them may be missing: give each capture point's JSON as an input of its own, in the order read wrote it")
            }
            if input.damaged > 0 {
                reportLine("\(input.name): \(input.damaged) damaged leg record\(input.damaged == 1 ? "" : "s") skipped (the first on line \(input.firstDamaged))")
                failed = true
            }
        }

        let intercepts = finder.finish()
        let seenTwice = finder.connectionsSeenTwice
        let out = OutputBuffer()
        let color = format == .text && !noColor && getenv("NO_COLOR") == nil && isatty(1) != 0
        let writer = ReportWriter(out: out, format: format == .json ? .json : .text(color: color), captureNames: captureNames)
        var summary = RunSummary()
        summary.legsOnly = true
        summary.sessions = legs
        for x in seenTwice {
            let f = FindingsEngine.sameConnection(x)
            summary.add(f)
            summary.connectionsSeenTwice += 1
            writer.write(.sameConnection(x, f, combined: nil))
        }
        for x in intercepts {
            let findings = FindingsEngine.intercept(x)
            for f in findings { summary.add(f) }
            summary.intercepts += 1
            writer.write(.intercept(x, findings))
        }
        let clocks = CaptureClocks.estimate(intercepts: intercepts, sameConnections: seenTwice, names: captureNames)
        switch format {
        case .json:
            var w = JSONWriter()
            for c in clocks { JSONRecords.clock(c, captureNames: captureNames, into: &w) }
            w.withBytes { out.write($0) }
        case .text:
            if captureNames.count > 1 { out.write(Array((InterceptText(color: color).render(clocks, captureNames: captureNames) + "\n").utf8)) }
        }
        writer.write(.summary(summary, packets: 0))
        out.flush()
        Glibc.exit(failed ? 1 : 0)
    }

    private func reportLine(_ text: String) {
        var line = Array("smtpscope: \(text)\n".utf8)
        line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress!, $0.count) }
    }
}

/// One input of `correlate`: JSON lines read in blocks, the `leg` records among them parsed one
/// at a time (the others are passed over unparsed).
final class LegInput {
    let name: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var ended = false
    private var line = 0
    /// Lines that began as leg records and could not be read as one.
    private(set) var damaged = 0
    private(set) var firstDamaged = 0
    private(set) var error: String?
    /// The latest session end among the legs taken from this input, and how many legs came more
    /// than the pairing window before it (the input is not in the order sessions ended).
    var latest = Timestamp.zero
    var late = 0
    private static let block = 1 << 20

    init?(path: String) {
        name = path == "-" ? "(stdin)" : path
        if path == "-" {
            fd = 0
        } else {
            fd = open(path, O_RDONLY)
            guard fd >= 0 else { return nil }
        }
    }

    deinit { if fd > 0 { close(fd) } }

    /// The next leg record, nil at the end of the input.
    func next() -> LegRecord.Parsed? {
        while let l = nextLine() {
            guard LegRecord.isLeg(l) else { continue }
            if let leg = LegRecord.parse(Array(l)) { return leg }
            damaged += 1
            if damaged == 1 { firstDamaged = line }
        }
        return nil
    }

    private func nextLine() -> ArraySlice<UInt8>? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0a) {
                defer { start = nl + 1 }
                line += 1
                return buffer[start..<nl]
            }
            if ended {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                line += 1
                return buffer[start...]
            }
            // Keep the partial line, read the next block after it.
            buffer.removeSubrange(0..<start)
            start = 0
            let have = buffer.count
            buffer += repeatElement(0, count: Self.block)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + have, Self.block) }
            if n < 0, errno == EINTR {
                buffer.removeSubrange(have...)
                continue
            }
            buffer.removeSubrange((have + max(0, n))...)
            if n < 0 { error = String(cString: strerror(errno)) }
            if n <= 0 { ended = true }
        }
    }
}
