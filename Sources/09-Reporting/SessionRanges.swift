/// A set of session numbers kept as sorted, disjoint, non-adjacent ranges: a finding seen in
/// sessions 1 to 2 000 000 is one range, not two million numbers. Session numbers mostly arrive
/// in increasing order, which extends the last range in constant time.
public struct SessionRanges: Sendable, Equatable {
    public private(set) var ranges: [ClosedRange<Int>] = []
    public init() {}

    /// How many sessions the set holds.
    public var count: Int { ranges.reduce(0) { $0 + $1.count } }

    public mutating func insert(_ n: Int) {
        if let last = ranges.last {
            if last.contains(n) { return }
            if n == last.upperBound + 1 { ranges[ranges.count - 1] = last.lowerBound...n; return }
            if n > last.upperBound { ranges.append(n...n); return }
        } else {
            ranges.append(n...n)
            return
        }
        // Out of order: the first range that ends at or after n - 1.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < n - 1 { lo = mid + 1 } else { hi = mid }
        }
        let r = ranges[lo]
        if r.contains(n) { return }
        if r.lowerBound == n + 1 {
            ranges[lo] = n...r.upperBound
        } else if r.upperBound == n - 1 {
            // Joins the next range when n filled the hole between them.
            if lo + 1 < ranges.count, ranges[lo + 1].lowerBound == n + 1 {
                ranges[lo] = r.lowerBound...ranges[lo + 1].upperBound
                ranges.remove(at: lo + 1)
            } else {
                ranges[lo] = r.lowerBound...n
            }
        } else {
            ranges.insert(n...n, at: lo)
        }
    }

    /// `session 4`, `sessions 1–31`, `sessions 2, 5, 9–12` (a range of two is written as two numbers).
    public var text: String {
        var parts: [String] = []
        for r in ranges {
            switch r.count {
            case 1: parts.append("\(r.lowerBound)")
            case 2: parts.append("\(r.lowerBound), \(r.upperBound)")
            default: parts.append("\(r.lowerBound)–\(r.upperBound)")
            }
        }
        return (count == 1 ? "session " : "sessions ") + parts.joined(separator: ", ")
    }
}
