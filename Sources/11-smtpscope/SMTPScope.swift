import ArgumentParser

struct SMTPScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smtpscope",
        abstract: "See what really crossed the wire in SMTP sessions.",
        discussion: """
            smtpscope reads packet captures (pcap or pcapng, as written by tcpdump, Wireshark or \
            tshark), puts the TCP streams of SMTP sessions back together and prints every session \
            as a timeline: each command with the reply it got, each mail transaction with its \
            outcome (queued, rejected, reset, abandoned, incomplete) and queue id.

            Examples:
              smtpscope read capture.pcap
              smtpscope read --format json capture.pcapng > sessions.jsonl
              tcpdump -i eth0 -w - 'tcp port 25' | smtpscope read -
            """,
        version: smtpscopeVersion,
        subcommands: [Read.self, Live.self, Correlate.self, Explain.self],
        defaultSubcommand: nil
    )
}
