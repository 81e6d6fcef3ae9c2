/// A message's content as sent, dot-unstuffed (DATA) or its chunks joined (BDAT): kept only when
/// asked for (`SMTPDecoder.Options.keepBodies`, for `--export-dir`).
public struct MessageBody: Sendable, Equatable {
    /// Octets missing from the capture inside the message.
    public struct Gap: Sendable, Equatable {
        /// Where in `bytes` the missing octets belong.
        public var offset: Int
        /// How many are missing; nil when unknown (lost before the message began, while the
        /// client's bytes were held for the reply to DATA).
        public var length: Int?
    }

    public var bytes: [UInt8] = []
    public var gaps: [Gap] = []
}

/// What the decoder keeps of a message's content beside the counts it always takes, each only
/// when asked: the bytes themselves, and the MIME parts found (with their hashes) as they pass.
struct ContentSink {
    var body: MessageBody?
    var mime: MIMEScanner?

    init(keepBody: Bool, scanParts: Bool, keepParts: Bool) {
        if keepBody { body = MessageBody() }
        if scanParts || keepParts { mime = MIMEScanner(keepData: keepParts) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        body?.bytes.append(contentsOf: bytes)
        mime?.feed(bytes)
    }

    mutating func gap(_ length: Int?) {
        if let offset = body?.bytes.count { body?.gaps.append(MessageBody.Gap(offset: offset, length: length)) }
        mime?.gap()
    }
}
