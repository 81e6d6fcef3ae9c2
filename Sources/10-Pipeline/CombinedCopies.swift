import Capture
import Correlation
import Packets
import Vocabulary
import Sessions

/// One connection captured at two points where one copy lost bytes the other holds (a packet the
/// workstation's capture dropped is often in the server's): both copies' segments put back into
/// one stream and decoded again, so the transactions the gap hid come out whole.
///
/// The near-server copy's segments are brought onto the near-client copy's terms — its clock
/// (minus the measured offset), its addresses and ports (undoing NAT), its sequence numbers
/// (undoing a rewrite) — and merged in time order. A segment both copies carry is then a
/// retransmission with the same bytes, which the reassembler keeps once; a segment only one copy
/// carries fills the other's gap. Needs the capture files again: not for standard input.
public enum CombinedCopies {
    /// For each of `connections`, the session and transactions decoded from both its copies
    /// together (nil where the files yield none), numbered from `firstID` on. The files are read
    /// again once for all of them; nil for every one when the input was standard input.
    public static func decode(_ connections: [SameConnection], paths: [String], options: AnalyzerOptions, firstID: Int) -> [(Session, [Transaction])?] {
        guard !connections.isEmpty, !paths.contains("-") else { return connections.map { _ in nil } }
        struct Held {
            var seg: TCPSegment
            var bytes: [UInt8]
            var time: Timestamp
            var order: Int
        }
        /// Where each copy was seen: its capture point and its endpoints in a fixed order.
        struct Copy: Hashable {
            var vantage: Vantage
            var low: Endpoint, high: Endpoint
            init(_ v: Vantage, _ a: Endpoint, _ b: Endpoint) {
                vantage = v
                (low, high) = a < b ? (a, b) : (b, a)
            }
        }
        var copies: [Copy: (connection: Int, near: Bool)] = [:]
        for (k, x) in connections.enumerated() {
            copies[Copy(x.nearClientCapture, x.nearClientEndpoints.client, x.nearClientEndpoints.server)] = (k, true)
            copies[Copy(x.nearServerCapture, x.nearServerEndpoints.client, x.nearServerEndpoints.server)] = (k, false)
        }
        var held = [[Held]](repeating: [], count: connections.count)
        let captures = CaptureSet(paths: paths, selection: options.selection)
        var decoders: [Int: PacketDecoder] = [:]
        for f in captures.files {
            if let lt = LinkType(dlt: f.dlt) { decoders[f.index] = PacketDecoder(linkType: lt) }
        }
        captures.forEach { p in
            decoders[p.vantage.file]?.decode(p.bytes, wireLength: p.wireLength, time: p.time) { seg in
                guard let (k, near) = copies[Copy(p.vantage, seg.source, seg.destination)] else { return }
                let x = connections[k]
                var s = seg
                var time = p.time
                if !near {
                    // The near-server copy brought onto the near-client copy's terms.
                    let fromClient = s.source == x.nearServerEndpoints.client
                    s.source = fromClient ? x.nearClientEndpoints.client : x.nearClientEndpoints.server
                    s.destination = fromClient ? x.nearClientEndpoints.server : x.nearClientEndpoints.client
                    s.seq = s.seq &- x.sequenceDelta[fromClient ? 0 : 1]
                    s.ack = s.ack &- x.sequenceDelta[fromClient ? 1 : 0]
                    time = time.adding(seconds: -x.clock.seconds)
                }
                held[k].append(Held(seg: s, bytes: Array(s.payload), time: time, order: held[k].count))
            }
        }

        final class One: RecordSink {
            var sessions: [Session] = []
            var transactions: [Transaction] = []
            func transaction(_ t: Transaction, in session: Session) { transactions.append(t) }
            func session(_ s: Session) { sessions.append(s) }
        }
        var id = firstID
        return connections.indices.map { k -> (Session, [Transaction])? in
            let x = connections[k]
            let segments = held[k].sorted { ($0.time, $0.order) < ($1.time, $1.order) }
            let sink = One()
            let analyzer = Analyzer(options: options, sink: sink)
            for h in segments {
                var seg = h.seg
                h.bytes.withUnsafeBytes { payload in
                    seg.payload = payload
                    analyzer.segment(seg, time: h.time, vantage: x.nearClientCapture)
                }
            }
            analyzer.finish()
            guard var session = sink.sessions.first else { return nil }
            let decodedID = session.id
            session.id = id
            session.combinedFrom = [x.nearClient, x.nearServer]
            let transactions = sink.transactions.filter { $0.session == decodedID }.map { t in
                var t = t
                t.session = session.id
                return t
            }
            id += 1
            return (session, transactions)
        }
    }
}
