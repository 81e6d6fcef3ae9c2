import ArgumentParser
import Capture
import Correlation
import Pipeline
import Packets
import Reporting
import TLS
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
    /// Zeek's smtp.log (tab-separated, as Zeek's ASCII writer) and its JSON form.
    case zeek
    case zeekJSON = "zeek-json"
    /// Elastic Common Schema documents, one JSON object per line.
    case ecs

    /// The sink that writes this format.
    func sink(out: OutputBuffer, captureNames: [String], color: Bool, streaming: Bool = false) -> any ReportSink {
        switch self {
        case .text: return ReportWriter(out: out, format: .text(color: color), captureNames: captureNames, streaming: streaming)
        case .json: return ReportWriter(out: out, format: .json, captureNames: captureNames, streaming: streaming)
        case .zeek: return ZeekLogWriter(out: out, format: .ascii)
        case .zeekJSON: return ZeekLogWriter(out: out, format: .json)
        case .ecs: return ECSWriter(out: out, captureNames: captureNames, streaming: streaming)
        }
    }

    /// Header fields this format needs kept as sent.
    var rawHeaders: Set<String> { self == .zeek || self == .zeekJSON ? ZeekSMTP.headerNames : [] }
}

extension InterceptFinder.Mode: ExpressibleByArgument {}

struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read capture files and print their SMTP sessions.",
        discussion: """
            Several files are read together in timestamp order: give the capture from the \
            workstation and the one from the mail server to analyse both legs of a connection. \
            '-' reads a capture from standard input. Gzip-compressed captures (.pcap.gz, \
            .pcapng.gz) are read as they are.

            SMTP is looked for on ports 25, 465, 587 and 2525, and on any other port where a \
            server greets with 220 and the client answers EHLO or HELO, also inside a SOCKS or \
            HTTP CONNECT proxy tunnel.

            STARTTLS and implicit TLS (port 465) are decrypted with the keys of --keylog and those \
            embedded in a pcapng (Decryption Secrets Block, editcap --inject-secrets); without \
            keys the handshake is reported (version, cipher, SNI, certificate, JA3/JA4).

            Exit status: 0 when every input was read; 1 when an input could not be read or is \
            damaged (what could be read is still reported); 64 for a usage error.
            """)

    @Argument(help: ArgumentHelp("Capture files (pcap or pcapng, plain or gzip-compressed); '-' for standard input.", valueName: "file"))
    var files: [String]

    @Option(help: "Output format: text (a timeline for people), json (one JSON object per line), zeek or zeek-json (Zeek's smtp.log), ecs (Elastic Common Schema documents).")
    var format: OutputFormat = .text

    @Option(name: .customLong("port"), help: ArgumentHelp("Also treat this TCP port as SMTP (repeatable).", valueName: "port"))
    var ports: [UInt16] = []

    @Option(name: .customLong("header"), help: ArgumentHelp("Also report this message header (repeatable), e.g. --header X-Mailer.", valueName: "name"))
    var headers: [String] = []

    @Flag(help: "Show AUTH credentials instead of redacting them. They are passwords: take care where the output goes.")
    var showCredentials = false

    @Flag(help: "Only examine the SMTP ports; do not look for SMTP on other ports by content.")
    var noContentDetection = false

    @Option(help: ArgumentHelp("Pair the legs of intercepted connections: auto (when the evidence is strong), always (on any consistent evidence) or never.", valueName: "mode"))
    var pairing: InterceptFinder.Mode = .auto

    @Flag(help: "Never colour the text output (colour is used only on a terminal, and never when NO_COLOR is set).")
    var noColor = false

    @Option(name: .customLong("keylog"), help: ArgumentHelp("Decrypt STARTTLS and implicit TLS with this NSS key log (the SSLKEYLOGFILE format; repeatable). Decrypted lines are marked 🔓.", valueName: "file"))
    var keylogs: [String] = []

    @Option(name: .customLong("html"), help: ArgumentHelp("Also write a report as one self-contained HTML page to this file: findings, ladder diagrams of intercepted connections, sessions with a filter.", valueName: "file"))
    var html: String?

    func run() throws {
        var options = AnalyzerOptions()
        options.ports.formUnion(ports)
        options.detectByContent = !noContentDetection
        options.decoder.redactCredentials = !showCredentials
        options.decoder.extraHeaders = Set(headers.map { $0.lowercased() })
        options.decoder.rawHeaders = format.rawHeaders
        // Keys from --keylog and from the captures' Decryption Secrets Blocks, in one store.
        let keys = KeyLogStore()
        for path in keylogs {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the key log \(path)") }
            keys.add(data)
            keys.finishInput()
        }
        options.keyLog = keys

        let captures = CaptureSet(paths: files)
        captures.onSecrets = { type, data in
            guard type == KeyLogStore.pcapngSecretsType else { return }
            keys.add(data)
            keys.finishInput()
        }
        for e in captures.errors { report(e) }
        let openErrors = captures.errors.count
        let out = OutputBuffer()
        let names = files.map { $0 == "-" ? "(stdin)" : $0 }
        var outputs: [any ReportSink] = [format.sink(out: out, captureNames: names, color: useColor())]
        if let html { outputs.append(HTMLReport(path: html, captureNames: names)) }
        let sinks = ReportSinks(outputs)
        let judge = Judge(captures: files.count, pairing: pairing) { sinks.write($0) }
        if !keylogs.isEmpty { judge.keyLogClientRandoms = Set(keys.clientRandoms) }
        // A connection captured twice whose copies each lost what the other holds is decoded
        // again from both (the files are read a second time, for that connection only).
        let readOptions = options
        let paths = files
        judge.combine = { xs, id in CombinedCopies.decode(xs, paths: paths, options: readOptions, firstID: id) }
        // Indexed by file number: looked up for every packet.
        var linkTypes = [LinkType?](repeating: nil, count: files.count)
        var skip = Set<Int>()
        for f in captures.files {
            if let lt = LinkType(dlt: f.dlt) {
                linkTypes[f.index] = lt
            } else {
                skip.insert(f.index)
                report(CaptureError(file: f.path, problem: "link type \(f.dlt) (\(f.dltName)) is not supported; supported: Ethernet, Linux cooked (SLL, SLL2), BSD loopback (NULL, LOOP), raw IP"))
            }
        }
        Driver.read(captures, linkTypes: linkTypes, options: options, judge: judge)
        // Errors met while reading (a file cut short) come after what was read before them.
        for e in captures.errors.dropFirst(openErrors) { report(e) }
        let sinkErrors = sinks.finish()
        out.flush()
        for e in sinkErrors { reportLine(e) }
        // Done: the process ends here, without taking apart what the analysis built (the flow
        // table, the sessions held for pairing), which only the kernel needs to reclaim.
        Glibc.exit(!captures.errors.isEmpty || !skip.isEmpty || !sinkErrors.isEmpty ? 1 : 0)
    }

    private func useColor() -> Bool {
        if noColor || getenv("NO_COLOR") != nil { return false }
        return isatty(1) != 0
    }

    private func report(_ e: CaptureError) { reportLine(e.description) }

    private func reportLine(_ text: String) {
        var line = Array("smtpscope: \(text)\n".utf8)
        line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress!, $0.count) }
    }
}
