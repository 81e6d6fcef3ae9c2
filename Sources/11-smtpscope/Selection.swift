import ArgumentParser
import Reporting
import Vocabulary

/// A time on the command line (`--since`, `--until`): ISO 8601 / RFC 3339 or seconds since the
/// epoch (see `Timestamp.init(parsing:)`).
struct TimeArgument: ExpressibleByArgument {
    var time: Timestamp

    init?(argument: String) {
        guard let t = Timestamp(parsing: argument) else { return nil }
        time = t
    }

    static var defaultValueDescription: String { "" }
}

/// `N.M`: transaction M of session N (`--transaction`).
struct TransactionArgument: ExpressibleByArgument {
    var selection: ShownSelection

    init?(argument: String) {
        let parts = argument.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]), n > 0, m > 0 else { return nil }
        selection = ShownSelection(session: n, transaction: m)
    }
}
