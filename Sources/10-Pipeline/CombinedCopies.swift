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
    /// The session (numbered `id`) and transactions decoded from both copies of `x` together;
    /// nil when the files cannot be read again or yield no session.
    public static func decode(_ x: SameConnection, paths: [String], options: AnalyzerOptions, id: Int) -> (Session, [Transaction])? {
        guard !paths.contains("-") else { return nil }
        let near = x.nearClientEndpoints, far = x.nearServerEndpoints
        struct Held {
            var seg: TCPSegment
            var bytes: [UInt8]
            var time: Timestamp
            var order: Int
        }
        var held: [Held] = []
        let captures = CaptureSet(paths: paths)
        var decoders: [Int: PacketDecoder] = [:]
        for f in captures.files {
            if let lt = LinkType(dlt: f.dlt) { decoders[f.index] = PacketDecoder(linkType: lt) }
        }
        captures.forEach { p in
            let v = p.vantage
            guard v == x.nearClientCapture || v == x.nearServerCapture else { return }
            decoders[v.file]?.decode(p.bytes, wireLength: p.wireLength, time: p.time) { seg in
                var s = seg
                var time = p.time
                if v == x.nearClientCapture, Set([s.source, s.destination]) == Set([near.client, near.server]) {
                    // As it is.
                } else if v == x.nearServerCapture, Set([s.source, s.destination]) == Set([far.client, far.server]) {
                    let fromClient = s.source == far.client
                    s.source = fromClient ? near.client : near.server
                    s.destination = fromClient ? near.server : near.client
                    s.seq = s.seq &- x.sequenceDelta[fromClient ? 0 : 1]
                    s.ack = s.ack &- x.sequenceDelta[fromClient ? 1 : 0]
                    time = time.adding(seconds: -x.clock.seconds)
                } else {
                    return
                }
                held.append(Held(seg: s, bytes: Array(s.payload), time: time, order: held.count))
            }
        }
        guard !held.isEmpty else { return nil }
        held.sort { ($0.time, $0.order) < ($1.time, $1.order) }

        final class One: RecordSink {
            var sessions: [Session] = []
            var transactions: [Transaction] = []
            func transaction(_ t: Transaction, in session: Session) { transactions.append(t) }
            func session(_ s: Session) { sessions.append(s) }
        }
        let sink = One()
        let analyzer = Analyzer(options: options, sink: sink)
        for h in held {
            var seg = h.seg
            h.bytes.withUnsafeBytes { payload in
                seg.payload = payload
                analyzer.segment(seg, time: h.time, vantage: x.nearClientCapture)
            }
        }
        analyzer.finish()
        guard var session = sink.sessions.first else { return nil }
        session.id = id
        session.combinedFrom = [x.nearClient, x.nearServer]
        let transactions = sink.transactions.filter { $0.session == sink.sessions[0].id }.map { t in
            var t = t
            t.session = id
            return t
        }
        return (session, transactions)
    }
}
