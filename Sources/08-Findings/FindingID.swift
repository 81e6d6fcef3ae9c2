/// The identifier of a finding: what `smtpscope explain` takes, what the text summary and the JSON
/// `findings` arrays write (the raw value), and what the catalog is keyed by. Rules name findings
/// by case, so an id no catalog entry explains cannot be made, and `all` lists every id there is
/// (the documentation test checks each one against docs/output.md).
public enum FindingID: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case heloWithoutHostname = "helo-without-hostname"
    case heloRefusedClientGaveUp = "helo-refused-client-gave-up"
    case ehloRefusedNoHelo = "ehlo-refused-no-helo"
    case heloLiteralMismatch = "helo-literal-mismatch"
    case rsetAfterRecipients = "rset-after-recipients"
    case rsetConnectionReuse = "rset-connection-reuse"
    case rsetBurst = "rset-burst"
    case transactionReplayed = "transaction-replayed"
    case noopKeepalive = "noop-keepalive"
    case fastReply = "fast-reply"
    case ttlMismatch = "ttl-mismatch"
    case ipIDMismatch = "ip-id-mismatch"
    case bannerMasked = "banner-masked"
    case starttlsMasked = "starttls-masked"
    case commandMasked = "command-masked"
    case starttlsNotUsed = "starttls-not-used"
    case starttlsRefused = "starttls-refused"
    case starttlsAnswerInconsistent = "starttls-answer-inconsistent"
    case cleartextCredentials = "cleartext-credentials"
    case pipeliningNotOffered = "pipelining-not-offered"
    case commandsAfterData = "commands-after-data"
    case replyWithoutCommand = "reply-without-command"
    case commandsNeverAnswered = "commands-never-answered"
    case invalidReply = "invalid-reply"
    case bareLineEnding = "bare-line-ending"
    case lineTooLong = "line-too-long"
    case nulByte = "nul-byte"
    case smtpUTF8Missing = "smtputf8-missing"
    case eightBitWithout8BITMIME = "eight-bit-without-8bitmime"
    case bdatInvalid = "bdat-invalid"
    case messageOverSize = "message-over-size"
    case longSilence = "long-silence"
    case closedWithoutQuit = "closed-without-quit"
    case rstMidTransaction = "rst-mid-transaction"
    case captureGap = "capture-gap"
    case interceptedStoreAndForward = "intercepted-store-and-forward"
    case interceptedInlineRewriter = "intercepted-inline-rewriter"
    case interceptedStarttls = "intercepted-starttls"
    case interceptedRelay = "intercepted-relay"
    case interceptedTLS = "intercepted-tls"
    case keyLogMatchesNoHandshake = "keylog-matches-no-handshake"
    case sameConnection = "same-connection"
    case divergentOutcome = "divergent-outcome"
    case logCommandsNotSent = "log-commands-not-sent"
    case logCommandsNotReceived = "log-commands-not-received"
    case logReplyNotFromServer = "log-reply-not-from-server"
    case logOutcomeDiffers = "log-outcome-differs"
    case logDeliveryFailed = "log-delivery-failed"

    /// Every finding id, in catalog order.
    public static var all: [FindingID] { allCases }

    public var description: String { rawValue }

    /// Ordered by the written id, so findings at one time sort as they did when ids were text.
    public static func < (a: FindingID, b: FindingID) -> Bool { a.rawValue < b.rawValue }
}
