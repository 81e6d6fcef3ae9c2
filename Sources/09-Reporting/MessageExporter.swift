import Foundation
import SMTP
import Sessions
import Vocabulary

/// `read --export-dir DIR`: every message of the run as an RFC 5322 `.eml` file — the octets the
/// client sent, dot-unstuffed, BDAT chunks joined — with a `.json` beside it saying whose message
/// it is and what became of it (envelope, outcome, gaps, MIME parts); with `--export-attachments`
/// also each part's decoded octets.
///
/// Names sort by time and say the session and transaction they come from:
/// `20260302T091407.120000Z-s3-t0.eml`, `…-s3-t0.json` and `…-s3-t0.parts/0-report.pdf`. A message
/// the capture did not hold whole is marked in its name: `-gap` when octets inside it are missing
/// (they are listed in the `.json`; the `.eml` holds what was captured, end to end), `-incomplete`
/// when its end was never seen.
///
/// File names sent in the message never reach the file system as they are: a part's file name is
/// reduced to letters, digits and a few punctuation marks, may not start with a dot, is cut to
/// `nameLimit` octets, and always follows the part's number, inside the message's own directory.
/// A directory that cannot be written is one error line (`finish`), not a crash; writing stops at
/// the first failure.
public final class MessageExporter: ReportSink {
    /// Longest part file name written (octets), the part number excluded. NAME_MAX is 255.
    static let nameLimit = 120

    public let directory: URL
    private let captureNames: [String]
    private let attachments: Bool
    private var error: String?
    private var writer = JSONWriter()
    /// Messages written (each an `.eml` and its `.json`).
    public private(set) var messagesWritten = 0

    public init(directory: String, captureNames: [String], attachments: Bool) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        self.captureNames = captureNames
        self.attachments = attachments
        do {
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        } catch {
            self.error = "cannot create the export directory \(directory): \(Self.reason(error))"
        }
    }

    public func write(_ record: ReportRecord) {
        switch record {
        case .session(let s, let txns, _):
            export(s, txns)
        case .sameConnection(_, _, let combined):
            if let (s, txns, _) = combined { export(s, txns) }
        case .transaction, .intercept, .note, .summary:
            break
        }
    }

    public func finish() -> [String] {
        error.map { [$0] } ?? []
    }

    // MARK: - Writing

    private func export(_ s: Session, _ txns: [Transaction]) {
        for t in txns where error == nil {
            guard let body = t.body else { continue }
            let base = Self.baseName(t)
            var files: [Int: String]?
            if attachments, let parts = t.parts {
                files = [:]
                let dir = base + ".parts"
                for p in parts {
                    guard let data = p.data else { continue }
                    let name = Self.partFileName(p)
                    guard put(Data(data), dir + "/" + name, makeDirectory: dir) else { return }
                    files?[p.index] = dir + "/" + name
                }
            }
            guard put(Data(body.bytes), base + ".eml") else { return }
            writer.reset()
            record(t, s, body: body, eml: base + ".eml", files: files, &writer)
            guard put(writer.withBytes { Data($0) }, base + ".json") else { return }
            messagesWritten += 1
        }
    }

    /// Writes `data` at `name` inside the directory; false (and the run's one error) on failure.
    private func put(_ data: Data, _ name: String, makeDirectory: String? = nil) -> Bool {
        do {
            if let sub = makeDirectory {
                try FileManager.default.createDirectory(at: directory.appendingPathComponent(sub, isDirectory: true), withIntermediateDirectories: true)
            }
            try data.write(to: directory.appendingPathComponent(name))
            return true
        } catch {
            self.error = "cannot write to the export directory \(directory.path): \(Self.reason(error))"
            return false
        }
    }

    private static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }

    // MARK: - Names

    /// `20260302T091407.120000Z-s3-t0`, then `-gap` or `-incomplete` when the capture lacks part
    /// of the message.
    static func baseName(_ t: Transaction) -> String {
        let stamp = t.start.rfc3339.filter { $0 != "-" && $0 != ":" }
        var name = "\(stamp)-s\(t.session)-t\(t.index)"
        if let gaps = t.body?.gaps, !gaps.isEmpty {
            name += "-gap"
        } else if !t.messageComplete {
            name += "-incomplete"
        }
        return name
    }

    /// `3-report.pdf`: the part's number, then its file name made safe; a part without a file
    /// name is named by its number and content type (`0.txt`, `1.html`, `2.bin`).
    static func partFileName(_ p: MIMEPart) -> String {
        if let name = p.filename.map(safeName), !name.isEmpty { return "\(p.index)-\(name)" }
        switch p.contentType {
        case "text/plain": return "\(p.index).txt"
        case "text/html": return "\(p.index).html"
        case "message/rfc822": return "\(p.index).eml"
        default: return "\(p.index).bin"
        }
    }

    /// A name sent in a message, reduced to something that is one harmless file name: letters,
    /// digits, space and `._-+()[]@,=` kept (others become `_`), no leading dots or spaces (no
    /// hidden files, no `..`), no trailing dots or spaces, at most `nameLimit` octets with the
    /// extension kept.
    static func safeName(_ raw: String) -> String {
        var scalars = String.UnicodeScalarView()
        for s in raw.unicodeScalars {
            // (Control, format and bidi characters are neither letters nor digits.)
            let keep = s.properties.isAlphabetic || s.properties.numericType != nil || "._-+()[]@,= ".unicodeScalars.contains(s)
            scalars.append(keep ? s : "_")
        }
        var name = Substring(String(scalars))
        while let f = name.first, f == "." || f == " " { name.removeFirst() }
        while let l = name.last, l == "." || l == " " { name.removeLast() }
        guard name.utf8.count > nameLimit else { return String(name) }
        var ext = ""
        if let dot = name.lastIndex(of: "."), name[dot...].utf8.count <= 16 {
            ext = String(name[dot...])
            name = name[..<dot]
        }
        // Cut on a character boundary.
        var stem = ""
        for c in name {
            if stem.utf8.count + c.utf8.count + ext.utf8.count > nameLimit { break }
            stem.append(c)
        }
        return stem + ext
    }

    // MARK: - The .json

    private func record(_ t: Transaction, _ s: Session, body: MessageBody, eml: String, files: [Int: String]?, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("type"); w.plainString("exported_message")
        w.key("eml"); w.string(eml)
        w.key("session"); w.int(t.session)
        w.key("transaction"); w.int(t.index)
        w.key("capture"); w.string(captureNames.indices.contains(s.vantage.file) ? captureNames[s.vantage.file] : nil)
        w.key("client"); w.endpoint(s.client)
        w.key("server"); w.endpoint(s.server)
        w.key("start"); w.timestamp(t.start)
        w.key("end"); w.timestamp(t.end)
        w.key("helo"); JSONRecords.optionalBytes(t.helo, &w)
        w.key("mail_from"); JSONRecords.optionalBytes(t.mailFrom, &w)
        JSONRecords.recipients(t, &w)
        w.key("outcome"); w.string(t.outcome.rawValue)
        w.key("reply"); JSONRecords.reply(t.reply, &w)
        w.key("queue_id"); w.string(t.queueID)
        w.key("size"); w.int(t.size)
        w.key("octets_written"); w.int(body.bytes.count)
        w.key("message_complete"); w.bool(t.messageComplete)
        w.key("gaps")
        w.beginArray()
        for g in body.gaps {
            w.beginObject()
            w.key("offset"); w.int(g.offset)
            w.key("length"); w.int(g.length)
            w.endObject()
        }
        w.endArray()
        w.key("chunked"); w.bool(t.chunked)
        w.key("tls"); w.bool(t.tls)
        w.key("subject"); w.string(t.headers?.subject)
        w.key("message_id"); w.string(t.headers?.messageID)
        w.key("attachments")
        if let parts = t.parts { JSONRecords.attachments(parts, files: files, &w) } else { w.null() }
        w.endObject()
        w.newline()
    }
}
