import Correlation
import Vocabulary
import Sessions

/// The two-leg ladder: client leg | middlebox | server leg, time running down, every line labelled.
public struct InterceptText {
    public var color: Bool
    /// Width and time column (shared with the session timeline).
    public var layout: TextLayout
    let middleWidth = 26

    public init(color: Bool, layout: TextLayout = TextLayout()) {
        self.color = color
        self.layout = layout
    }

    public func render(_ x: Intercept) -> String {
        var out = ""
        let legs = zip(x.serverLegs, x.serverEndpoints).map { "session \($0.0) (\($0.1.client) → \($0.1.server))" }.joined(separator: ", ")
        out += bold("intercepted connection") + "  client leg: session \(x.clientLeg) (\(x.clientEndpoints.client) → \(x.clientEndpoints.server))  ⇄  server leg: \(legs)\n"
        var clock = x.clock.sameClock ? "one capture, one clock" : "clock offset \(SessionText.fixed(x.clock.seconds, 4)) s ± \(SessionText.fixed(x.clock.uncertainty, 4)) s (server-leg capture minus client-leg capture)"
        if let d = x.clock.driftPPM { clock += ", drifting \(SessionText.fixed(d, 1)) ppm" }
        out += "  \(clock) · score \(x.score)\n"
        out += "  " + bold("verdict: ") + Printable.escape(x.verdict.description) + "\n"
        out += "  evidence: " + x.evidence.map(Printable.escape).joined(separator: "; ") + "\n\n"
        // Columns: time, client leg, middlebox, server leg. With a width the two legs share what
        // is left evenly and their lines are cut; without, nothing is cut and a client line
        // longer than its 40 columns pushes the rest of its own row right (as in the timeline).
        let timeColumn = layout.time.column
        let columnWidth: Int, sideWidth: Int
        if let w = layout.width {
            columnWidth = max(12, (w - 2 - timeColumn - 2 - middleWidth - 2) / 2)
            sideWidth = columnWidth
        } else {
            columnWidth = 40
            sideWidth = 1 << 30  // whole: no cut (and room for arithmetic on it)
        }
        let captureStart = layout.captureStart?.time
        out += "  " + pad("", timeColumn) + pad("client leg", columnWidth) + "  " + pad("middlebox", middleWidth) + "  server leg\n"
        for a in x.actions {
            let t = pad(layout.time.stamp(a.clientClockTime, start: x.start, captureStart: captureStart), timeColumn)
            let line = layout.value(a.line, limit: columnWidth)
            let other = a.counterpart.map { layout.value($0, limit: sideWidth) } ?? ""
            let delay = a.delay.map { " " + SessionText.latency(max(0, $0)) } ?? ""
            var left = "", middle = "", right = ""
            var highlight = false
            switch a.kind {
            case .relayed:
                left = line
                right = other
                middle = a.isReply ? "◀── relayed\(delay) ──" : "── relayed\(delay) ──▶"
            case .rewritten:
                left = line
                right = other
                middle = a.isReply ? "◀── ✎ rewritten ──" : "── ✎ rewritten ──▶"
            case .synthesized:
                left = line
                middle = "✱ synthesized"; highlight = true
                right = a.counterpart.map { "(server: \(layout.value($0, limit: sideWidth - 10)))" } ?? ""
            case .withheld:
                left = line
                middle = "✖ withheld"; highlight = true
            case .injected:
                middle = "✚ injected ──▶"; highlight = true
                // The injected line and the server's reply to it share the server column.
                let half = max(6, (sideWidth - 4) * 3 / 5)
                right = layout.value(a.line, limit: half) + (other.isEmpty ? "" : "  → \(layout.value(a.counterpart ?? [], limit: sideWidth - 4 - half))")
            case .held:
                left = line
                middle = "⏸ held\(delay) ──▶"; highlight = true
                right = other
            case .divergent:
                out += "  " + t + bad(layout.fit("≠ divergent: " + Printable.escape(a.line), (layout.width ?? 0) - 2 - timeColumn)) + "\n"
                continue
            }
            let gap = String(repeating: " ", count: max(1, middleWidth - Columns.width(middle)))
            // No spaces after an empty server column.
            var row = "  " + t + pad(left, columnWidth) + "  " + (highlight ? warn(middle) : middle) + gap + "  " + right
            while row.hasSuffix(" ") { row.removeLast() }
            out += row + "\n"
            if let note = a.note, a.kind != .relayed {
                out += "  " + String(repeating: " ", count: timeColumn + columnWidth + 2) + dim("↳ " + Printable.escape(note)) + "\n"
            }
        }
        return out
    }

    /// One connection captured at two points: a short block, no ladder (every line is the same).
    public func render(_ x: SameConnection, combinedSession: Int? = nil, captureNames: [String]) -> String {
        func name(_ v: Vantage) -> String { captureNames.indices.contains(v.file) ? captureNames[v.file] : "?" }
        var out = bold("same connection, two capture points") + "  session \(x.nearClient) (\(name(x.nearClientCapture)): \(x.nearClientEndpoints.client) → \(x.nearClientEndpoints.server))"
        out += "  ≡  session \(x.nearServer) (\(name(x.nearServerCapture)): \(x.nearServerEndpoints.client) → \(x.nearServerEndpoints.server))\n"
        if x.clock.sameClock {
            out += "  one capture, one clock\n"
        } else {
            out += "  clock offset \(SessionText.fixed(x.clock.seconds, 4)) s ± \(SessionText.fixed(x.clock.uncertainty, 4)) s (session \(x.nearServer)'s capture minus session \(x.nearClient)'s)\n"
        }
        out += "  " + bold("verdict: ") + Printable.escape(x.verdict) + "\n"
        out += "  evidence: " + x.evidence.map(Printable.escape).joined(separator: "; ") + "\n"
        if let c = combinedSession { out += "  both copies put together, gaps filled: session \(c) above\n" }
        return out
    }

    /// Each capture point's clock against its reference (`smtpscope correlate`).
    public func render(_ clocks: [CaptureClock], captureNames: [String]) -> String {
        func name(_ file: Int) -> String { captureNames.indices.contains(file) ? captureNames[file] : "?" }
        var out = bold("capture clocks") + "  (each capture point's clock minus its reference's, from the pairs between them)\n"
        let width = clocks.map { name($0.capture).count }.max() ?? 0
        for c in clocks {
            let pairs = "\(c.pairs) pair\(c.pairs == 1 ? "" : "s")"
            var line = "  " + pad(name(c.capture), width) + "  "
            if let r = c.reference {
                line += (c.offset < 0 ? "" : "+") + SessionText.fixed(c.offset, 4) + " s ± " + SessionText.fixed(c.uncertainty, 4) + " s against " + name(r)
                if !c.via.isEmpty { line += " (via " + c.via.map(name).joined(separator: ", ") + ")" }
                if let d = c.driftPPM { line += ", drifting " + SessionText.fixed(d, 1) + " ppm" }
                line += " · " + pairs
            } else if c.pairs > 0 {
                line += "reference · " + pairs
            } else {
                line += "no pairs with another capture point"
            }
            out += line + "\n"
        }
        return out
    }

    private func pad(_ s: String, _ n: Int) -> String { Columns.pad(s, n) }
    private func esc(_ code: String, _ s: String) -> String { color ? "\u{1b}[\(code)m\(s)\u{1b}[0m" : s }
    func bold(_ s: String) -> String { esc("1", s) }
    func dim(_ s: String) -> String { esc("2", s) }
    func warn(_ s: String) -> String { esc("33", s) }
    func bad(_ s: String) -> String { esc("31", s) }
}
