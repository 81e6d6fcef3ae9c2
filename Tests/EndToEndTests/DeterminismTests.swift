import Pipeline
import Foundation
import Sessions
import Testing

/// The same input gives the same output, also where the connection table overflows.
@Suite struct DeterminismTests {
    /// A capture with a coarse clock (every frame stamped with the same time, as captures taken
    /// with a low-resolution clock are) holding more open connections than the table takes: which
    /// connections are closed as `table-full`, and in which order, must not depend on the flow
    /// table's hash seed, which differs between runs.
    @Test func aFullConnectionTableClosesTheSameConnectionsEveryRun() throws {
        var b = PcapBuilder()
        var connections = (0..<40).map { ScriptedConnection(clientPort: UInt16(40000 + $0)) }
        func sameTime(_ step: (inout PcapBuilder) -> Void) {
            b.time = 1_700_000_000
            step(&b)
        }
        for i in connections.indices {
            b.time = 1_700_000_000
            connections[i].open(&b)
        }
        for i in connections.indices { sameTime { connections[i].server(&$0, Array("220 mx ESMTP\r\n".utf8)) } }
        for i in connections.indices { sameTime { connections[i].client(&$0, Array("EHLO c\(i)\r\n".utf8)) } }
        for i in connections.indices { sameTime { connections[i].server(&$0, Array("250 mx\r\n".utf8)) } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("smtpscope-table-full-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(b.data).write(to: file)

        var options = AnalyzerOptions()
        options.reassembly.maxConnections = 8
        func run() -> [String] {
            analyze([file.path], options: options).0.sessions.map { "\($0.id) \($0.client.port) \($0.close.rawValue) \($0.bytes) \($0.helo ?? "-")" }
        }
        let first = run()
        #expect(first.count >= 40)
        #expect(first.filter { $0.contains(" table-full ") }.count >= 30, "the table overflowed")
        for _ in 0..<4 {
            let again = run()
            let differ = zip(first, again).first { $0 != $1 }
            #expect(again.count == first.count && differ == nil, "first difference: \(String(describing: differ))")
        }
    }
}
