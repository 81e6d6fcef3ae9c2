import Capture
import Pipeline
import Foundation
import Packets
import Reporting
import Testing

/// `smtpscope read` reads on one thread, follows TCP on another, decodes SMTP on a third and judges
/// and writes on a fourth; the output must be exactly what one thread writes.
@Suite struct DriverThreadsTests {
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
            let writer = ReportWriter(out: out, format: json ? .json : .text(color: false), captureNames: paths)
            let judge = Judge(captures: paths.count) { writer.write($0) }
            let set = CaptureSet(paths: paths)
            var linkTypes = [LinkType?](repeating: nil, count: paths.count)
            for f in set.files { linkTypes[f.index] = LinkType(dlt: f.dlt) }
            // As the records' hand-over: small batches keep the threads waiting on each other.
            var threads = Driver.Threads()
            threads.sessionBatch = capacity ?? 1024
            threads.recordCapacity = capacity ?? 1024
            Driver.read(set, linkTypes: linkTypes, options: AnalyzerOptions(), judge: judge, threads: capacity == nil ? nil : threads)
            out.flush()
        }
        close(fd)
        return try Data(contentsOf: url)
    }
}
