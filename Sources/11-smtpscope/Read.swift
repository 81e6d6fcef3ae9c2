import ArgumentParser
import Capture
import Correlation
import Pipeline
import Packets
import Reporting
import ServerLog
import TLS
import Vocabulary
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
    func sink(out: OutputBuffer, captureNames: [String], color: Bool, streaming: Bool = false, layout: TextLayout = TextLayout()) -> any ReportSink {
        switch self {
        case .text:
            let w = ReportWriter(out: out, format: .text(color: color), captureNames: captureNames, streaming: streaming)
            w.layout = layout
            return w
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

    @Option(name: .customLong("export-dir"), help: ArgumentHelp("Write each message to DIR as an .eml file (the octets sent, dot-unstuffed), with a .json of its envelope, outcome and parts beside it.", valueName: "dir"))
    var exportDir: String?

    @Flag(help: "With --export-dir: also write each MIME part's decoded content.")
    var exportAttachments = false

    @Flag(help: "List each message's MIME parts (file name, type, size, SHA-256) in the transaction records.")
    var attachments = false

    // Choosing what is read and what is shown.
    @Option(help: ArgumentHelp("Read only the packets this filter takes (tcpdump syntax, compiled by libpcap for each file's link type, as tcpdump -r FILE EXPR does).", valueName: "expr"))
    var filter: String?

    @Option(help: ArgumentHelp("Leave out the packets before this time, as editcap -A does: a session already open then is reported from there on. An ISO 8601 / RFC 3339 time (UTC unless it names a zone, e.g. 2026-11-30T05:02:55Z) or seconds since the epoch.", valueName: "time"))
    var since: TimeArgument?

    @Option(help: ArgumentHelp("Leave out the packets at or after this time, as editcap -B does: a session still open then is reported as cut off there. Same forms as --since.", valueName: "time"))
    var until: TimeArgument?

    @Option(help: ArgumentHelp("Show only this session (its number in the output of the same read); the summary counts what is shown and says what was selected.", valueName: "n"))
    var session: Int?

    @Option(help: ArgumentHelp("Show only transaction M of session N (JSON: its transaction record alone).", valueName: "n.m"))
    var transaction: TransactionArgument?

    func validate() throws {
        if session != nil, transaction != nil { throw ValidationError("give --session or --transaction, not both") }
        if let session, session < 1 { throw ValidationError("sessions are numbered from 1") }
        if let since, let until, !(since.time < until.time) { throw ValidationError("--since must be earlier than --until") }
    }

    /// What `--session` or `--transaction` chose.
    private var shownSelection: ShownSelection? { transaction?.selection ?? session.map { ShownSelection(session: $0) } }
    @OptionGroup(title: "Text output")
    var text: TextOptions

    @Option(name: .customLong("html"), help: ArgumentHelp("Also write a report as one self-contained HTML page to this file: findings, ladder diagrams of intercepted connections, sessions with a filter.", valueName: "file"))
    var html: String?

    @Option(name: .customLong("maillog"), help: ArgumentHelp("Join this mail server log (Postfix, Exim, Sendmail or Exchange's receive protocol log; plain or gzip; '-' for standard input; repeatable) with the captured sessions, and say where the server's account and the wire disagree.", valueName: "file"))
    var maillogs: [String] = []

    func run() throws {
        var options = AnalyzerOptions()
        options.ports.formUnion(ports)
        options.detectByContent = !noContentDetection
        options.decoder.redactCredentials = !showCredentials
        options.decoder.extraHeaders = Set(headers.map { $0.lowercased() })
        options.decoder.rawHeaders = format.rawHeaders
        // Message bodies are held only for export; parts are hashed as they stream past.
        if exportAttachments, exportDir == nil { throw ValidationError("--export-attachments needs --export-dir") }
        options.decoder.keepBodies = exportDir != nil
        options.decoder.scanParts = attachments || exportDir != nil
        options.decoder.keepParts = exportAttachments
        // Keys from --keylog and from the captures' Decryption Secrets Blocks, in one store.
        let keys = KeyLogStore()
        for path in keylogs {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read the key log \(path)") }
            keys.add(data)
            keys.finishInput()
        }
        options.keyLog = keys
        options.selection = PacketSelection(filter: filter, since: since?.time, until: until?.time)
        let captureStart = CaptureStart()
        options.captureStart = captureStart

        let captures = CaptureSet(paths: files, selection: options.selection)
        // A filter that does not compile is the command's fault, not the files': one line, as tcpdump.
        if let e = captures.errors.first(where: \.isUsageError) {
            report(e)
            Glibc.exit(64)
        }
        captures.onSecrets = { type, data in
            guard type == KeyLogStore.pcapngSecretsType else { return }
            keys.add(data)
            keys.finishInput()
        }
        for e in captures.errors { report(e) }
        let openErrors = captures.errors.count
        let out = OutputBuffer()
        let names = files.map { $0 == "-" ? "(stdin)" : $0 }
        var layout = text.layout(headers: headers)
        layout.captureStart = captureStart
        let output = format.sink(out: out, captureNames: names, color: useColor(), layout: layout)
        // --transaction: the timeline and JSON writer writes the chosen transaction without its session.
        (output as? ReportWriter)?.transactionsOnly = transaction != nil
        var outputs: [any ReportSink] = [output]
        if let exportDir { outputs.append(MessageExporter(directory: exportDir, captureNames: names, attachments: exportAttachments)) }
        if let html {
            let page = HTMLReport(path: html, captureNames: names)
            // The server's log lines of each session, at their time on the capture's clock.
            if !maillogs.isEmpty { page.serverLog = { s in (s.serverLog?.lines ?? []).map { ServerLogLine(time: $0.corrected, text: $0.text) } } }
            outputs.append(page)
        }
        // --session, --transaction: every output gets only what was chosen.
        let all = ReportSinks(outputs)
        let selected = shownSelection.map { SelectedRecords($0, next: all) }
        let sinks = ReportSinks([selected ?? all])
        // How far the reading is, on stderr when it is a terminal; erased before the report is
        // written to the same terminal.
        let progress = ProgressLine.wanted(stderrIsTerminal: isatty(2) != 0, totalBytes: captures.totalBytes) ? ProgressLine(totalBytes: captures.totalBytes) : nil
        if let progress, isatty(1) != 0 { out.beforeWrite = { progress.clear() } }
        let judge = Judge(captures: files.count, pairing: pairing) { sinks.write($0) }
        if !keylogs.isEmpty { judge.keyLogClientRandoms = Set(keys.clientRandoms) }
        if !maillogs.isEmpty {
            guard !(maillogs.contains("-") && files.contains("-")) else { throw ValidationError("standard input ('-') can be a capture or a mail log, not both") }
            var texts: [[UInt8]] = []
            for path in maillogs {
                do { texts.append(try WholeInput.read(path: path)) } catch { throw ValidationError("cannot read the mail log \(path): \(error.problem)") }
            }
            judge.serverLog = ServerLogJoin(ServerLog.parse(files: texts))
        }
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
        Driver.read(captures, linkTypes: linkTypes, options: options, judge: judge, progress: progress)
        // Errors met while reading (a file cut short) come after what was read before them.
        for e in captures.errors.dropFirst(openErrors) { report(e) }
        let sinkErrors = sinks.finish()
        out.flush()
        for e in sinkErrors { reportLine(e) }
        if let selected, !selected.found, let what = shownSelection {
            reportLine(what.transaction == nil ? "no session \(what.session) in what was read" : "no transaction \(what.text) (transaction \(what.transaction ?? 0) of session \(what.session)) in what was read")
            Glibc.exit(1)
        }
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
