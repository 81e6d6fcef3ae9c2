import ArgumentParser
import Capture
import Correlation
import Pipeline
import Packets
import Reporting
import Vocabulary
import Synchronization
import TLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set by SIGINT/SIGTERM; the capture loop checks it between reads.
let stopRequested = Atomic<Int>(0)

struct Live: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture on an interface and print each transaction as it completes.",
        discussion: """
            Needs root or the CAP_NET_RAW capability. Stop with Ctrl-C: open sessions are printed \
            as incomplete and libpcap's drop counters go to stderr.

            Examples:
              smtpscope live -i eth0
              smtpscope live -i eth0 -w evidence.pcap --duration 600
              smtpscope live -i any --filter 'tcp port 25 and host 192.0.2.10' --format json
            """)

    @Option(name: [.short, .long], help: ArgumentHelp("Interface to capture on (see --list-interfaces).", valueName: "name"))
    var interface: String?

    @Flag(help: "List the interfaces that can be captured on, and exit.")
    var listInterfaces = false

    @Option(help: ArgumentHelp("Capture filter in tcpdump syntax; replaces the default one built from the SMTP ports.", valueName: "expr"))
    var filter: String?

    @Option(name: .customLong("port"), help: ArgumentHelp("Also treat this TCP port as SMTP (repeatable).", valueName: "port"))
    var ports: [UInt16] = []

    @Option(help: "Output format: text (a timeline for people), json (one JSON object per line), zeek or zeek-json (Zeek's smtp.log, a row when a session ends), ecs (Elastic Common Schema documents).")
    var format: OutputFormat = .text

    @Option(help: ArgumentHelp("Stop after this many transactions.", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .customShort("w"), help: ArgumentHelp("Also write the captured packets to this pcap file (the evidence).", valueName: "file"))
    var writeFile: String?

    @Option(name: .customShort("Z"), help: ArgumentHelp("After opening the capture, drop privileges to this user (as tcpdump -Z).", valueName: "user"))
    var user: String?

    @Option(help: ArgumentHelp("Seconds of silence after which a session is closed and printed.", valueName: "seconds"))
    var idleTimeout = Limits.liveIdleTimeout

    @Option(name: .customLong("header"), help: ArgumentHelp("Also report this message header (repeatable).", valueName: "name"))
    var headers: [String] = []

    @Flag(help: "Show AUTH credentials instead of redacting them.")
    var showCredentials = false

    @Flag(help: "Never colour the text output.")
    var noColor = false

    @Option(help: ArgumentHelp("Pair the legs of intercepted connections: auto, always or never.", valueName: "mode"))
    var pairing: InterceptFinder.Mode = .auto

    @Option(help: ArgumentHelp("Capture workers, each on a thread of its own with its share of the connections (Linux PACKET_FANOUT, by flow); their transactions come out in one stream. For machines with more cores than one worker keeps busy.", valueName: "n"))
    var workers = 1

    @Option(name: .customLong("keylog"), help: ArgumentHelp("Decrypt TLS with this NSS key log (SSLKEYLOGFILE format; repeatable), read again every second as it grows, so that keys a mail client writes while it sends are used.", valueName: "file"))
    var keylogs: [String] = []

    @OptionGroup(title: "Text output")
    var text: TextOptions

    func run() throws {
        if listInterfaces {
            do {
                for i in try LiveCapture.interfaces() { print(i.name + (i.description.map { "  (\($0))" } ?? "")) }
            } catch {
                fail(error)
            }
            return
        }
        guard let interface else { throw ValidationError("name an interface with -i (smtpscope live --list-interfaces shows them)") }
        var options = AnalyzerOptions()
        options.ports.formUnion(ports)
        options.decoder.redactCredentials = !showCredentials
        options.decoder.extraHeaders = Set(headers.map { $0.lowercased() })
        options.decoder.rawHeaders = format.rawHeaders
        options.reassembly.idleTimeout = idleTimeout
        // Key logs a client is still writing: what they gained is read once a second.
        let keys = KeyLogStore()
        var followers: [KeyLogFollower] = []
        for path in keylogs {
            guard let f = KeyLogFollower(path: path, into: keys) else { throw ValidationError("cannot read the key log \(path)") }
            followers.append(f)
        }
        options.keyLog = keys
        let captureStart = CaptureStart()
        options.captureStart = captureStart
        let expression = filter ?? Self.defaultFilter(options.ports)
        guard workers >= 1, workers <= 64 else { throw ValidationError("--workers takes 1 to 64") }
        if workers > 1, writeFile != nil { throw ValidationError("-w keeps evidence from one capture worker: use it without --workers") }
        var captures: [LiveCapture] = []
        do {
            for _ in 0..<workers {
                let capture = try LiveCapture(interface: interface, filter: expression, writeTo: writeFile)
                // Several workers: one fanout group, named by this process.
                if workers > 1 { try capture.joinFanout(group: UInt16(truncatingIfNeeded: getpid())) }
                captures.append(capture)
            }
        } catch {
            fail(error)
        }
        if let user { try dropPrivileges(to: user) }
        guard let linkType = LinkType(dlt: captures[0].dlt) else {
            fail(CaptureError(file: interface, problem: "link type \(captures[0].dlt) (\(captures[0].dltName)) is not supported"))
        }
        // A parent may start us with these signals blocked (the mask is inherited): unblock them.
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in stopRequested.store(1, ordering: .relaxed) }
            sigaddset(&mask, sig)
        }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
        let out = OutputBuffer()
        out.immediate = true
        var layout = text.layout(headers: headers)
        layout.captureStart = captureStart
        let writer = format.sink(out: out, captureNames: [interface], color: !noColor && getenv("NO_COLOR") == nil && isatty(1) != 0, streaming: true, layout: layout)
        // Each transaction is written the moment a worker finishes it.
        let judge = Judge(captures: 1, pairing: pairing, streaming: true) { writer.write($0) }
        let started = wallClock()
        var lastSweep = started
        let result = LiveWorkers.run(captures, linkType: linkType, options: options, judge: judge) {
            let now = wallClock()
            if now.seconds(since: lastSweep) >= 1 {
                for f in followers { f.readOn() }
                lastSweep = now
            }
            if stopRequested.load(ordering: .relaxed) != 0 { return true }
            if let count, judge.summary.transactions >= count { return true }
            if let duration, now.seconds(since: started) >= duration { return true }
            return false
        }
        for e in writer.finish() { stderrLine("smtpscope: " + e) }
        out.flush()
        var received: UInt64 = 0, dropped: UInt64 = 0, interfaceDropped: UInt64 = 0
        for c in captures {
            guard let s = c.statistics() else { continue }
            received += UInt64(s.received)
            dropped += UInt64(s.dropped)
            interfaceDropped += UInt64(s.interfaceDropped)
        }
        var line = "smtpscope: \(received) packets received, \(dropped) dropped by the kernel, \(interfaceDropped) dropped by the interface"
        if workers > 1 { line += " (workers read " + result.perWorker.map(String.init).joined(separator: ", ") + " packets)" }
        stderrLine(line)
        if let failure = result.failure { fail(failure) }
    }

    /// The SMTP ports, with or without an 802.1Q tag (a plain `tcp port 25` misses tagged frames).
    static func defaultFilter(_ ports: Set<UInt16>) -> String {
        let list = ports.sorted().map { "tcp port \($0)" }.joined(separator: " or ")
        return "(\(list)) or (vlan and (\(list)))"
    }

    private func dropPrivileges(to name: String) throws {
        guard let pw = getpwnam(name) else {
            fail(CaptureError(file: name, problem: "no such user"))
        }
        let uid = pw.pointee.pw_uid, gid = pw.pointee.pw_gid
        guard initgroups(name, gid) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            fail(CaptureError(file: name, problem: "cannot switch to this user: \(String(cString: strerror(errno)))"))
        }
    }

    private func stderrLine(_ s: String) {
        var line = Array((s + "\n").utf8)
        line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress!, $0.count) }
    }

    /// One line on stderr, then the exit status: 64 (usage) for a capture filter that does not
    /// compile, as tcpdump; 1 for everything else (no such interface, no permission, a file that
    /// cannot be written).
    private func fail(_ e: Error) -> Never {
        stderrLine("smtpscope: \(e)")
        Glibc.exit((e as? CaptureError)?.isUsageError == true ? 64 : 1)
    }
}

