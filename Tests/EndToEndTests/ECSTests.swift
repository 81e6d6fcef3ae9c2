import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A JSON value with its JSON type kept (JSONSerialization on Linux does not tell a number from a
/// boolean reliably).
indirect enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int64), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Leaves of nested objects as dotted paths (arrays stay values).
    func leaves(_ prefix: String = "") -> [(String, JSONValue)] {
        guard case .object(let o) = self else { return [(prefix, self)] }
        return o.flatMap { k, v in v.leaves(prefix.isEmpty ? k : prefix + "." + k) }
    }

    subscript(_ path: String) -> JSONValue? {
        var v: JSONValue? = self
        for k in path.split(separator: ".") {
            guard case .object(let o)? = v else { return nil }
            v = o[String(k)]
        }
        return v
    }
}

/// `--format ecs` checked against the Elastic Common Schema: every field emitted outside
/// `smtpscope.*` is an ECS field, and every value has the JSON form of its ECS type.
@Suite struct ECSTests {
    /// The ECS fields smtpscope writes, with their type in the ECS 8.17 field reference
    /// (https://www.elastic.co/guide/en/ecs/8.17/ecs-field-reference.html). `array`: the reference
    /// says the field should contain an array of values.
    static let ecsFields: [String: (type: String, array: Bool)] = [
        "@timestamp": ("date", false),
        "ecs.version": ("keyword", false),
        "message": ("match_only_text", false),
        "event.kind": ("keyword", false),
        "event.category": ("keyword", true),
        "event.type": ("keyword", true),
        "event.dataset": ("keyword", false),
        "event.module": ("keyword", false),
        "event.outcome": ("keyword", false),
        "event.start": ("date", false),
        "event.end": ("date", false),
        "event.duration": ("long", false),
        "event.severity": ("long", false),
        "rule.id": ("keyword", false),
        "rule.name": ("keyword", false),
        "rule.reference": ("keyword", false),
        "source.ip": ("ip", false),
        "source.port": ("long", false),
        "destination.ip": ("ip", false),
        "destination.port": ("long", false),
        "network.community_id": ("keyword", false),
        "network.transport": ("keyword", false),
        "network.protocol": ("keyword", false),
        "network.type": ("keyword", false),
        "email.from.address": ("keyword", true),
        "email.to.address": ("keyword", true),
        "email.cc.address": ("keyword", true),
        "email.subject": ("keyword", false),
        "email.message_id": ("wildcard", false),
        "email.direction": ("keyword", false),
        "email.sender.address": ("keyword", false),
        "email.local_id": ("keyword", false),
        "email.delivery_timestamp": ("date", false),
        "tls.version": ("keyword", false),
        "tls.version_protocol": ("keyword", false),
        "tls.cipher": ("keyword", false),
        "tls.established": ("boolean", false),
        "tls.next_protocol": ("keyword", false),
        "tls.client.server_name": ("keyword", false),
        "tls.client.ja3": ("keyword", false),
        "tls.server.ja3s": ("keyword", false),
        "tls.server.subject": ("keyword", false),
        "tls.server.issuer": ("keyword", false),
        "tls.server.not_before": ("date", false),
        "tls.server.not_after": ("date", false),
    ]
    /// ECS's allowed values for the categorisation fields smtpscope sets.
    static let allowed: [String: Set<String>] = [
        "event.kind": ["alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"],
        "event.category": ["email", "network"],
        "event.type": ["info", "protocol"],
        "event.outcome": ["success", "failure", "unknown"],
        "network.type": ["ipv4", "ipv6"],
        "network.transport": ["tcp"],
        "tls.version_protocol": ["tls", "ssl"],
    ]

    static func documents(_ arguments: [String]) throws -> [JSONValue] {
        let run = try runCLI(["read", "--format", "ecs"] + arguments)
        #expect(run.status == 0, "\(run.stderr)")
        return try run.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
    }

    /// Whether `v` has the JSON form of ECS type `type`.
    static func conforms(_ v: JSONValue, _ type: String) -> Bool {
        switch (type, v) {
        case ("keyword", .string), ("wildcard", .string), ("match_only_text", .string): return true
        case ("long", .int): return true
        case ("boolean", .bool): return true
        case ("date", .string(let s)):
            return s.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"#, options: .regularExpression) != nil
        case ("ip", .string(let s)):
            var a4 = in_addr(), a6 = in6_addr()
            return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1
        default: return false
        }
    }

    /// Every value of every document, on captures with TLS (decrypted with their keys), IPv6,
    /// findings, refused and reset transactions.
    @Test(arguments: ["plain-delivery", "ipv6-delivery", "tls13-starttls-msmtp", "tls12-implicit-cbc-smtplib", "pipelining-rcpt-refused", "careless-client", "subject-8bit", "relay-connection-reuse", "middlebox-divergent-both-legs"])
    func valuesHaveTheirECSTypes(capture: String) throws {
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: capturesDir.path).first { $0.hasPrefix(capture + ".pcap") })
        var args = [capturesDir.appendingPathComponent(file).path]
        let keys = capturesDir.appendingPathComponent(capture + ".keys")
        if FileManager.default.fileExists(atPath: keys.path) { args += ["--keylog", keys.path] }
        let docs = try Self.documents(args)
        #expect(!docs.isEmpty)
        var checked = 0
        for doc in docs {
            for (path, value) in doc.leaves() {
                #expect(!path.split(separator: ".").contains { $0.isEmpty }, "\(path)")
                if path.hasPrefix("smtpscope.") { continue }
                guard let field = Self.ecsFields[path] else {
                    Issue.record("\(capture): \(path) is not in the ECS table")
                    continue
                }
                let values: [JSONValue]
                if case .array(let list) = value {
                    #expect(field.array, "\(path) written as an array")
                    values = list
                } else {
                    #expect(!field.array, "\(path) should be an array")
                    values = [value]
                }
                for v in values {
                    #expect(Self.conforms(v, field.type), "\(capture): \(path) = \(v) is not a \(field.type)")
                    if let allowed = Self.allowed[path], case .string(let s) = v { #expect(allowed.contains(s), "\(path) = \(s)") }
                    checked += 1
                }
            }
            #expect(doc["@timestamp"] != nil && doc["event.kind"] != nil && doc["ecs.version"] != nil)
            #expect(doc["smtpscope.session"].map { if case .int = $0 { true } else { false } } == true)
        }
        #expect(checked > docs.count * 10)
    }

    /// The checker itself tells the JSON types apart.
    @Test func checkerTellsTypesApart() throws {
        func parse(_ s: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(s.utf8)) }
        #expect(try parse("1") == .int(1))
        #expect(try parse("true") == .bool(true))
        #expect(try parse("1.5") == .double(1.5))
        #expect(!Self.conforms(.bool(true), "long"))
        #expect(!Self.conforms(.int(1), "boolean"))
        #expect(!Self.conforms(.double(1.5), "long"))
        #expect(!Self.conforms(.string("10.0.0.300"), "ip"))
        #expect(Self.conforms(.string("2001:db8::1"), "ip"))
        #expect(!Self.conforms(.string("2026-12-05 10:00:00"), "date"))
        #expect(!Self.conforms(.int(5), "keyword"))
    }

    /// One document per transaction and one per finding, as the JSON output counts them; the
    /// transaction's facts where ECS names them.
    @Test func oneDocumentPerTransactionAndFinding() throws {
        let path = capturesDir.appendingPathComponent("pipelining-rcpt-refused.pcap").path
        let docs = try Self.documents([path])
        let json = try runCLI(["read", "--format", "json", path]).stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        let transactions = json.filter { $0["type"] == .string("transaction") }
        var findings = 0
        for r in json where r["type"] == .string("session") || r["type"] == .string("transaction") {
            if r["type"] == .string("session"), case .array(let f)? = r["findings"] { findings += f.count }
        }
        let txnDocs = docs.filter { $0["event.dataset"] == .string("smtpscope.transaction") }
        let findingDocs = docs.filter { $0["event.dataset"] == .string("smtpscope.finding") }
        #expect(txnDocs.count == transactions.count && !transactions.isEmpty)
        #expect(findingDocs.count == findings)
        #expect(docs.count == txnDocs.count + findingDocs.count)
        for (doc, t) in zip(txnDocs, transactions) {
            #expect(doc["@timestamp"] == t["start"])
            #expect(doc["network.community_id"] == t["community_id"])
            #expect(doc["smtpscope.outcome"] == t["outcome"])
            #expect(doc["email.local_id"] == t["queue_id"] || (t["queue_id"] == .null && doc["email.local_id"] == nil))
            let outcome: String = switch t["outcome"] { case .string("queued"): "success"; case .string("rejected"): "failure"; default: "unknown" }
            #expect(doc["event.outcome"] == .string(outcome))
            if case .string(let m)? = t["mail_from"], !m.isEmpty { #expect(doc["email.sender.address"] == .string(m)) }
            #expect(doc["smtpscope.rcpt_to"] == t["rcpt_to"])
        }
        for doc in findingDocs {
            #expect(doc["event.kind"] == .string("alert"))
            #expect(doc["rule.id"] != nil && doc["message"] != nil)
        }
    }
}
