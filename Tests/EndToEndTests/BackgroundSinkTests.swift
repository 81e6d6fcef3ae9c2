import Capture
import Engine
import Foundation
import Packets
import Reporting
import Testing

/// `smtpscope read` reads on one thread, follows TCP on another, decodes SMTP on a third and judges
/// and writes on a fourth; the output must be exactly what one thread writes.
@Suite struct BackgroundSinkTests {
    /// Every capture in `Captures/` at once (sessions, transactions, intercepted connections across
    /// files), text and JSON; the hand-overs between the threads hold 256 records, or only 2, so
    /// that the threads keep waiting on each other.
    @Test(arguments: [(true, 256), (true, 2), (false, 256), (false, 2)])
    func threadsWriteWhatOneThreadWrites(json: Bool, capacity: Int) throws {
        let paths = try FileManager.default.contentsOfDirectory(atPath: capturesDir.path)
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
            .map { capturesDir.appendingPathComponent($0).path }
        let direct = try report(paths, json: json, threads: nil)
        let threaded = try report(paths, json: json, threads: capacity)
        #expect(direct.count > 10_000)
        #expect(direct == threaded)
    }

    /// What `read` writes for `paths`, on one thread (`threads` nil) or four.
    func report(_ paths: [String], json: Bool, threads capacity: Int?) throws -> Data {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-threads-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        do {
            let out = OutputBuffer(fd: fd)
            let sink = ReportSink(out: out, format: json ? .json : .text(color: false), captureNames: paths)
            let background = capacity.map { BackgroundSink(sink, capacity: $0) }
            var options = AnalyzerOptions()
            options.sessionThread = capacity != nil
            // As the sink's hand-over: small batches keep the threads waiting on each other.
            options.sessionBatch = capacity ?? 1024
            let analyzer = Analyzer(options: options, sink: background ?? sink)
            let set = CaptureSet(paths: paths)
            var linkTypes: [Int: LinkType] = [:]
            for f in set.files { linkTypes[f.index] = LinkType(dlt: f.dlt) }
            set.forEach(prefetch: capacity != nil) { p in
                if let lt = linkTypes[p.vantage.file] { analyzer.packet(p, linkType: lt) }
            }
            analyzer.finish()
            background?.drain()
            sink.finish(packets: analyzer.packetStats.packets)
            out.flush()
        }
        close(fd)
        return try Data(contentsOf: url)
    }
}
