/// Reads a whole input as bytes (a file or `-`, standard input), gunzipped when it starts with
/// gzip's magic bytes: for text inputs beside the captures, such as mail server logs.
public enum WholeInput {
    public static func read(path: String) throws(CaptureError) -> [UInt8] {
        let input = try CaptureInput(path: path)
        defer { input.close() }
        var out: [UInt8] = []
        let size = 1 << 16
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        defer { buffer.deallocate() }
        while true {
            let n = input.read(into: buffer, count: size)
            if n == 0 { break }
            if n < 0 { throw CaptureError(file: path, problem: input.failure ?? "read error") }
            out.append(contentsOf: UnsafeBufferPointer(start: buffer, count: n))
        }
        return out
    }
}
