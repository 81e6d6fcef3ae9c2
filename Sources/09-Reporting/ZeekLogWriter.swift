import Findings
import SMTP
import Sessions
import Vocabulary
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes Zeek's `smtp.log`: the tab-separated form of Zeek's ASCII writer (`--format zeek`,
/// read by `zeek-cut` and Zui) or one JSON object per line as Zeek's JSON writer
/// (`--format zeek-json`). A row per transaction as Zeek's SMTP script makes them
/// (`ZeekSMTP.rows`); see docs/output.md, "Zeek smtp.log".
public final class ZeekLogWriter: ReportSink {
    public enum Format: Sendable {
        case ascii
        case json
    }

    /// Field names and Zeek types of `SMTP::Info`, in Zeek's order.
    public static let fields: [(name: String, type: String)] = [
        ("ts", "time"), ("uid", "string"), ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"),
        ("id.resp_p", "port"), ("trans_depth", "count"), ("helo", "string"), ("mailfrom", "string"),
        ("rcptto", "set[string]"), ("date", "string"), ("from", "string"), ("to", "set[string]"), ("cc", "set[string]"),
        ("reply_to", "string"), ("msg_id", "string"), ("in_reply_to", "string"), ("subject", "string"),
        ("x_originating_ip", "addr"), ("first_received", "string"), ("second_received", "string"),
        ("last_reply", "string"), ("path", "vector[addr]"), ("user_agent", "string"), ("tls", "bool"),
        ("fuids", "vector[string]"),
    ]

    private let out: OutputBuffer
    private let format: Format
    private var headerWritten = false
    /// The latest session end seen: the `#close` time.
    private var last: Timestamp?
    private var json = JSONWriter()

    public init(out: OutputBuffer, format: Format) {
        self.out = out
        self.format = format
    }

    public func write(_ record: ReportRecord) {
        // Rows are made from whole sessions: a transaction written early (live capture) comes
        // again with its session. A combined decoding of two copies of one connection is not
        // written: Zeek logs each capture's connection.
        guard case .session(let s, let txns, _) = record else { return }
        last = max(last ?? s.end, s.end)
        let rows = ZeekSMTP.rows(s, txns)
        guard !rows.isEmpty else { return }
        if !headerWritten { header(opened: s.start) }
        switch format {
        case .ascii:
            var bytes: [UInt8] = []
            for r in rows { Self.tsv(r, into: &bytes) }
            out.write(bytes)
        case .json:
            json.reset()
            for r in rows { Self.json(r, into: &json) }
            json.withBytes { out.write($0) }
        }
    }

    public func finish() -> [String] {
        guard format == .ascii else { return [] }
        if !headerWritten { header(opened: last) }
        out.write("#close\t" + Self.logTime(last) + "\n")
        return []
    }

    private func header(opened: Timestamp?) {
        headerWritten = true
        guard format == .ascii else { return }
        var h = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tsmtp\n"
        h += "#open\t" + Self.logTime(opened) + "\n"
        h += "#fields\t" + Self.fields.map(\.name).joined(separator: "\t") + "\n"
        h += "#types\t" + Self.fields.map(\.type).joined(separator: "\t") + "\n"
        out.write(h)
    }

    /// `#open`/`#close` times as Zeek writes them (`2026-03-02-09-14-07`), but from the capture
    /// (UTC), so that one capture always gives the same log; the wall clock only when no session
    /// was seen.
    static func logTime(_ t: Timestamp?) -> String {
        let stamp = t ?? Timestamp(seconds: Int64(time(nil)), nanoseconds: 0)
        let text = Array(stamp.rfc3339.utf8.prefix(19)).map { $0 == UInt8(ascii: "T") || $0 == UInt8(ascii: ":") ? UInt8(ascii: "-") : $0 }
        return String(decoding: text, as: UTF8.self)
    }

    // MARK: - ASCII

    static func tsv(_ r: ZeekSMTPRow, into b: inout [UInt8]) {
        func tab() { b.append(0x09) }
        func unset() { b.append(UInt8(ascii: "-")) }
        func string(_ v: [UInt8]?) { if let v { escaped(v, inSet: false, into: &b) } else { unset() } }
        func set(_ v: [[UInt8]]?) {
            guard let v else { return unset() }
            if v.isEmpty { return b += Array("(empty)".utf8) }
            for (i, e) in v.enumerated() {
                if i > 0 { b.append(UInt8(ascii: ",")) }
                escaped(e, inSet: true, into: &b)
            }
        }
        b += Array(epoch(r.ts).utf8); tab()
        b += Array(r.uid.utf8); tab()
        b += Array(r.orig.address.description.utf8); tab()
        b += Array(String(r.orig.port).utf8); tab()
        b += Array(r.resp.address.description.utf8); tab()
        b += Array(String(r.resp.port).utf8); tab()
        b += Array(String(r.transDepth).utf8); tab()
        string(r.helo); tab()
        string(r.mailfrom); tab()
        set(r.rcptto); tab()
        string(r.date); tab()
        string(r.from); tab()
        set(r.to); tab()
        set(r.cc); tab()
        string(r.replyTo); tab()
        string(r.msgID); tab()
        string(r.inReplyTo); tab()
        string(r.subject); tab()
        string(r.xOriginatingIP.map { Array($0.description.utf8) }); tab()
        string(r.firstReceived); tab()
        string(r.secondReceived); tab()
        string(r.lastReply); tab()
        set(r.path.map { Array($0.description.utf8) }); tab()
        string(r.userAgent); tab()
        b.append(r.tls ? UInt8(ascii: "T") : UInt8(ascii: "F")); tab()
        set(r.fuids.map { Array($0.utf8) })
        b.append(0x0a)
    }

    /// A value as Zeek's ASCII writer escapes it: `(empty)` for an empty string; a value that reads
    /// as `-` or `(empty)` with its first byte as `\xNN`; backslash, bytes that are not printable
    /// and are not part of valid UTF-8, and (in a set) the comma, as `\xNN`.
    static func escaped(_ v: [UInt8], inSet: Bool, into b: inout [UInt8]) {
        if v.isEmpty { return b += Array("(empty)".utf8) }
        var start = 0
        if v == Array("-".utf8) || v == Array("(empty)".utf8) {
            hex(v[0], into: &b)
            start = 1
        }
        var i = start
        while i < v.count {
            let c = v[i]
            if c >= 0x80 {
                let len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0
                if len > 0, i + len <= v.count, String(validating: v[i..<(i + len)], as: UTF8.self) != nil {
                    b += v[i..<(i + len)]
                    i += len
                    continue
                }
                hex(c, into: &b)
            } else if c < 0x20 || c == 0x7f || c == 0x5c || (inSet && c == UInt8(ascii: ",")) {
                hex(c, into: &b)
            } else {
                b.append(c)
            }
            i += 1
        }
    }

    static func hex(_ c: UInt8, into b: inout [UInt8]) {
        func digit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }
        b += [0x5c, UInt8(ascii: "x"), digit(c >> 4), digit(c & 0xf)]
    }

    /// Seconds since the epoch with six decimals (Zeek's `time` in ASCII logs).
    static func epoch(_ t: Timestamp) -> String {
        var micros = t.nanoseconds / 1000
        if t.nanoseconds % 1000 >= 500 { micros += 1 }
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        var frac = String(micros - seconds * 1_000_000)
        while frac.count < 6 { frac = "0" + frac }
        return "\(seconds).\(frac)"
    }

    // MARK: - JSON

    /// One object, Zeek's JSON writer's way: dotted `id.*` keys, unset fields left out, sets and
    /// vectors as arrays (`fuids` always present, `[]` when empty), `ts` as epoch seconds.
    static func json(_ r: ZeekSMTPRow, into w: inout JSONWriter) {
        func string(_ key: StaticString, _ v: [UInt8]?) { if let v { w.key(key); w.stringBytes(v) } }
        func set(_ key: StaticString, _ v: [[UInt8]]?) {
            guard let v else { return }
            w.key(key)
            w.beginArray()
            for e in v { w.stringBytes(e) }
            w.endArray()
        }
        w.beginObject()
        w.key("ts"); w.epochSeconds(r.ts)
        w.key("uid"); w.string(r.uid)
        w.key("id.orig_h"); w.string(r.orig.address.description)
        w.key("id.orig_p"); w.int(Int(r.orig.port))
        w.key("id.resp_h"); w.string(r.resp.address.description)
        w.key("id.resp_p"); w.int(Int(r.resp.port))
        w.key("trans_depth"); w.int(r.transDepth)
        string("helo", r.helo)
        string("mailfrom", r.mailfrom)
        set("rcptto", r.rcptto)
        string("date", r.date)
        string("from", r.from)
        set("to", r.to)
        set("cc", r.cc)
        string("reply_to", r.replyTo)
        string("msg_id", r.msgID)
        string("in_reply_to", r.inReplyTo)
        string("subject", r.subject)
        if let ip = r.xOriginatingIP { w.key("x_originating_ip"); w.string(ip.description) }
        string("first_received", r.firstReceived)
        string("second_received", r.secondReceived)
        string("last_reply", r.lastReply)
        set("path", r.path.map { Array($0.description.utf8) })
        string("user_agent", r.userAgent)
        w.key("tls"); w.bool(r.tls)
        set("fuids", r.fuids.map { Array($0.utf8) })
        w.endObject()
        w.newline()
    }
}
