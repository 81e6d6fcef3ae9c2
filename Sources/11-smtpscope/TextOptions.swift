import ArgumentParser
import Reporting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TimeStyle: ExpressibleByArgument {}

/// How the text timeline is laid out; the same options on `read` and `live`.
struct TextOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Fit the text output in this many columns (at least \(TextLayout.minimumWidth)), cutting long values with '…'. Default: the terminal's width; lines are written whole when standard output is not a terminal.", valueName: "n"))
    var width: Int?

    @Flag(help: "Write every line of the text output whole, even on a terminal (nothing is cut).")
    var wide = false

    @Option(help: ArgumentHelp("Time column of the text timeline: session (seconds since the session began, the default), relative (seconds since the first packet of the capture, as tshark -t r), utc or local (time of day; local uses TZ).", valueName: "style"))
    var time: TimeStyle = .session

    func validate() throws {
        if wide, width != nil { throw ValidationError("--wide and --width exclude each other") }
        if let width, width < TextLayout.minimumWidth { throw ValidationError("--width must be at least \(TextLayout.minimumWidth)") }
    }

    /// The layout for the writer: `--width`, else whole lines with `--wide` or when standard
    /// output is not a terminal, else the terminal's width (TIOCGWINSZ), else $COLUMNS, else 80.
    func layout(headers: [String]) -> TextLayout {
        var l = TextLayout()
        l.time = time
        l.headers = headers
        if let width {
            l.width = width
        } else if !wide, isatty(1) != 0 {
            l.width = max(TextLayout.minimumWidth, Self.terminalColumns() ?? 80)
        }
        return l
    }

    static func terminalColumns() -> Int? {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let c = getenv("COLUMNS"), let n = Int(String(cString: c)), n > 0 { return n }
        return nil
    }
}
