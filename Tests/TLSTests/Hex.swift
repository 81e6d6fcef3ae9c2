import Foundation

/// Bytes from hex written with or without spaces (test data as the RFCs print it).
func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.utf8).filter { !($0 == 0x20 || $0 == 0x0a || $0 == 0x09) }
    precondition(digits.count % 2 == 0, "odd hex")
    func v(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: preconditionFailure("not hex")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { v(digits[$0]) << 4 | v(digits[$0 + 1]) }
}

func hexOf(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
