import Vocabulary

/// One capture point's clock, against the clock of a reference capture point, as the pairs of legs
/// between them tell it (each pair bounds the offset by causality: see `Pairer` and
/// `SameConnection`).
public struct CaptureClock: Sendable {
    /// The capture (`Vantage.file`).
    public var capture: Int
    /// The capture it is measured against: nil for a reference itself (the capture with the most
    /// pairs among those linked to it by pairs) and for a capture without pairs to other captures.
    public var reference: Int?
    /// This capture's clock minus the reference's, in seconds: the median over the pairs.
    public var offset = 0.0
    /// Half the width of the interval causality leaves, the median over the pairs (summed along
    /// `via`).
    public var uncertainty = 0.0
    /// How fast this capture's clock runs against the reference's, in parts per million: the
    /// slope of a least-squares line through the pairs' offsets; nil with fewer than two pairs
    /// spanning a second.
    public var driftPPM: Double?
    /// Pairs (intercepts and connections seen twice) between this capture and other captures.
    public var pairs = 0
    /// Captures in between when this one has no pairs with the reference itself (offsets added
    /// along the way), nearest the reference first.
    public var via: [Int] = []
}

public enum CaptureClocks {
    /// Offsets measured between two captures: (time, offset of `b` minus `a`, uncertainty).
    private struct Link {
        var samples: [(Timestamp, Double, Double)] = []

        var offset: Double { median(samples.map(\.1)) }
        var uncertainty: Double { median(samples.map(\.2)) }
        /// Least-squares slope, in ppm; as `InterceptFinder.estimateDrift`.
        var driftPPM: Double? {
            guard samples.count >= 2, let t0 = samples.map(\.0).min() else { return nil }
            let xs = samples.map { $0.0.seconds(since: t0) }, ys = samples.map(\.1)
            guard let span = xs.max(), span >= 1 else { return nil }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            let sxy = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let sxx = xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
            return sxx > 0 ? sxy / sxx * 1e6 : nil
        }
    }

    /// Every capture's clock (one entry for each of `names`, in their order). Pairs within one
    /// capture (one clock) say nothing about clocks and are left out. `names` break ties between
    /// captures with as many pairs when choosing a reference, so the choice does not depend on the
    /// order the captures were met in.
    public static func estimate(intercepts: [Intercept], sameConnections: [SameConnection], names: [String]) -> [CaptureClock] {
        var links: [[Int]: Link] = [:]
        func add(_ a: Int, _ b: Int, _ t: Timestamp, _ offset: Double, _ uncertainty: Double) {
            guard a != b else { return }
            if a < b { links[[a, b], default: Link()].samples.append((t, offset, uncertainty)) } else { links[[b, a], default: Link()].samples.append((t, -offset, uncertainty)) }
        }
        for x in intercepts where !x.clock.sameClock {
            add(x.clientCapture.file, x.serverCapture.file, x.start, x.clock.seconds, x.clock.uncertainty)
        }
        for x in sameConnections where !x.clock.sameClock {
            add(x.nearClientCapture.file, x.nearServerCapture.file, x.start, x.clock.seconds, x.clock.uncertainty)
        }
        var clocks = names.indices.map { CaptureClock(capture: $0) }
        var neighbours: [Int: [Int]] = [:]
        for (k, link) in links {
            clocks[k[0]].pairs += link.samples.count
            clocks[k[1]].pairs += link.samples.count
            neighbours[k[0], default: []].append(k[1])
            neighbours[k[1], default: []].append(k[0])
        }
        /// The link from `a` to `b` (offset of `b` minus `a`).
        func link(_ a: Int, _ b: Int) -> (offset: Double, uncertainty: Double, drift: Double?) {
            let l = links[[min(a, b), max(a, b)]]!
            let sign = a < b ? 1.0 : -1.0
            return (l.offset * sign, l.uncertainty, l.driftPPM.map { $0 * sign })
        }
        // Each group of captures linked by pairs, measured from its most paired capture, breadth first.
        var done = Set<Int>()
        let order = names.indices.sorted { (clocks[$1].pairs, names[$0]) < (clocks[$0].pairs, names[$1]) }
        for reference in order where !done.contains(reference) && clocks[reference].pairs > 0 {
            done.insert(reference)
            var queue = [reference]
            var path: [Int: [Int]] = [reference: []]
            var drift: [Int: Double?] = [reference: 0]
            while !queue.isEmpty {
                let a = queue.removeFirst()
                for b in (neighbours[a] ?? []).sorted(by: { names[$0] < names[$1] }) where !done.contains(b) {
                    done.insert(b)
                    let l = link(a, b)
                    clocks[b].reference = reference
                    clocks[b].offset = (a == reference ? 0 : clocks[a].offset) + l.offset
                    clocks[b].uncertainty = (a == reference ? 0 : clocks[a].uncertainty) + l.uncertainty
                    let d: Double? = (drift[a] ?? nil).flatMap { da in l.drift.map { da + $0 } }
                    drift[b] = d
                    clocks[b].driftPPM = d
                    path[b] = (path[a] ?? []) + (a == reference ? [] : [a])
                    clocks[b].via = path[b] ?? []
                    queue.append(b)
                }
            }
        }
        return clocks
    }

    private static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
