import Vocabulary

/// Escaping for the two contexts the HTML report puts captured bytes in.
///
/// Everything from the wire is first made printable as in the text output (`Printable`: control
/// characters, bidi overrides and invalid UTF-8 become `\xNN` / `\u{…}`), then escaped for where it
/// goes: HTML text and attribute values, or the JSON data block inside a `<script>` element.
public enum HTMLEscape {
    /// Text for HTML element content or a quoted attribute value: `& < > " '` become references.
    public static func text(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Captured bytes as HTML text: made printable, then escaped.
    public static func wire<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        text(Printable.escape(bytes))
    }

    /// JSON text made safe to sit inside `<script type="application/json">`: no `<`, `>` or `&`
    /// (so neither `</script>` nor `<!--` can end or change the element), and no U+2028 / U+2029
    /// (line terminators to older JavaScript parsers). Each becomes its `\uXXXX` escape, which is
    /// only valid because these characters occur in JSON only inside strings.
    public static func scriptJSON(_ json: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + json.count + json.count / 16)
        var i = 0
        let n = json.count
        while i < n {
            let b = json[i]
            switch b {
            case UInt8(ascii: "<"): out += Array("\\u003c".utf8)
            case UInt8(ascii: ">"): out += Array("\\u003e".utf8)
            case UInt8(ascii: "&"): out += Array("\\u0026".utf8)
            case 0xe2 where i + 2 < n && json[i + 1] == 0x80 && (json[i + 2] == 0xa8 || json[i + 2] == 0xa9):
                out += Array((json[i + 2] == 0xa8 ? "\\u2028" : "\\u2029").utf8)
                i += 2
            default: out.append(b)
            }
            i += 1
        }
    }
}
