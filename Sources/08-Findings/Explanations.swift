import Vocabulary

/// What `smtpscope explain` looks up: finding ids and anomaly names, which share one namespace
/// for the user (a few words are both: the finding about a session and the anomaly the decoder
/// met). Ids match without regard to case, and `_` or a space stands for `-`.
public enum Explanations {
    /// The finding and the anomaly an id names (either, both or neither).
    public struct Match {
        public var finding: Catalog.Entry?
        public var anomaly: Anomaly.AnomalyInfo?
        public var isEmpty: Bool { finding == nil && anomaly == nil }
    }

    /// `Bare_LF`, `bare lf` and `bare-lf` are one id.
    public static func normalized(_ id: String) -> String {
        String(id.lowercased().map { $0 == "_" || $0 == " " ? "-" : $0 }).trimmingDashes()
    }

    public static func lookup(_ id: String) -> Match {
        let key = normalized(id)
        return Match(finding: Catalog.entry(named: key), anomaly: Anomaly.catalog.first { $0.name.rawValue == key })
    }

    /// Every id there is: findings, then anomalies (without the ones already listed).
    public static var allIDs: [String] {
        let findings = Catalog.all.map(\.id.rawValue)
        let known = Set(findings)
        return findings + Anomaly.catalog.map(\.name.rawValue).filter { !known.contains($0) }
    }

    /// The id nearest to `id` by edit distance (ties: the earlier in `allIDs`), for "did you mean".
    public static func closest(to id: String) -> String {
        let key = Array(normalized(id))
        var best = ("", Int.max)
        for candidate in allIDs {
            let d = distance(key, Array(candidate))
            if d < best.1 { best = (candidate, d) }
        }
        return best.0
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

private extension String {
    func trimmingDashes() -> String {
        var s = Substring(self)
        while s.first == "-" || s.first == " " { s = s.dropFirst() }
        while s.last == "-" || s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
