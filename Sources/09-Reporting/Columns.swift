/// Terminal columns: how wide text shows, and cutting and padding by that width, so that a value
/// cut with `…` or holding wide characters does not move the column after it.
///
/// Colour escape sequences (`ESC [ … m`, written by the text writer itself; captured bytes never
/// carry one, see `Printable`) take no column. East Asian wide and fullwidth characters and
/// emoji shown as emoji take two; combining marks, format characters (zero-width joiner) and
/// variation selectors none; everything else, `…` included, one.
public enum Columns {
    /// Columns `s` takes on a terminal.
    public static func width(_ s: String) -> Int {
        var n = 0
        var inEscape = false
        for scalar in s.unicodeScalars {
            if inEscape {
                // CSI: parameters and intermediates, then one final byte 0x40–0x7E ends it.
                if scalar != "[" && (0x40...0x7e).contains(scalar.value) { inEscape = false }
                continue
            }
            if scalar == "\u{1b}" { inEscape = true; continue }
            n += width(scalar)
        }
        return n
    }

    /// Columns one scalar takes.
    public static func width(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x7f { return v < 0x20 ? 0 : 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        if isWide(v) || scalar.properties.isEmojiPresentation { return 2 }
        return 1
    }

    /// East Asian Wide (W) and Fullwidth (F) blocks (Unicode Standard Annex #11).
    static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115f, 0x2e80...0x303e, 0x3041...0x33ff, 0x3400...0x4dbf, 0x4e00...0x9fff,
            0xa000...0xa4cf, 0xa960...0xa97f, 0xac00...0xd7a3, 0xf900...0xfaff, 0xfe10...0xfe19,
            0xfe30...0xfe6f, 0xff00...0xff60, 0xffe0...0xffe6, 0x1f300...0x1f64f, 0x1f900...0x1f9ff,
            0x20000...0x2fffd, 0x30000...0x3fffd:
            return true
        default:
            return false
        }
    }

    /// `s` in at most `columns` columns: cut, with `…` as its last column, when it is wider.
    /// Colour sequences are kept whole and take no column; after a cut, colour is reset.
    public static func fit(_ s: String, _ columns: Int) -> String {
        guard width(s) > columns else { return s }
        guard columns > 0 else { return "" }
        var out = ""
        var used = 0
        var inEscape = false, coloured = false
        for ch in s {
            if inEscape || ch == "\u{1b}" {
                // Escape sequences are ASCII: one scalar per character.
                if let v = ch.unicodeScalars.first?.value {
                    if v == 0x1b { inEscape = true; coloured = true } else if ch != "[" && (0x40...0x7e).contains(v) { inEscape = false }
                }
                out.append(ch)
                continue
            }
            let w = width(String(ch))
            if used + w > columns - 1 { break }
            out.append(ch)
            used += w
        }
        return out + "…" + (coloured ? "\u{1b}[0m" : "")
    }

    /// `s` followed by spaces up to `columns` columns (nothing added when it is as wide already).
    public static func pad(_ s: String, _ columns: Int) -> String {
        let w = width(s)
        return w >= columns ? s : s + String(repeating: " ", count: columns - w)
    }
}
