#!/usr/bin/env bash
# `smtpscope live --workers 2` finds the same transactions as one worker and as reading the
# packets from a file: sample captures of real mail software, merged into one file, are replayed
# with tcpreplay over a veth pair between two network namespaces this script creates (nothing
# leaves the machine), once into each.
#
#   sudo Tests/live/live-workers.sh
#
# Environment: SMTPSCOPE (binary; default .build/debug/smtpscope), KEEP_TMP=1 keeps the outputs.
# Needs: root, iproute2, tcpreplay, mergecap (wireshark-common), python3.
set -uo pipefail
export LC_ALL=C TZ=UTC

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${SMTPSCOPE:-$REPO/.build/debug/smtpscope}
NS_A=smtpscope-wk-a-$$
NS_B=smtpscope-wk-b-$$
TMP=$(mktemp -d)

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
cleanup() {
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    [ "${KEEP_TMP:-}" = 1 ] && echo "outputs kept in $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
for tool in ip tcpreplay mergecap python3; do command -v $tool >/dev/null || { echo "MISSING: $tool" >&2; exit 2; }; done
[ -x "$BIN" ] || fail "no smtpscope binary at $BIN"

# Ethernet captures of single sessions and of several, one after another (their connections do
# not overlap: each capture was taken at its own time).
CAPS=(plain-delivery msmtp-delivery smtplib-delivery auth-plain auth-login bdat-chunking
      pipelining-rcpt-refused relay-connection-reuse two-clients-same-message ipv6-delivery
      careless-client helo-no-hostname ehlo-refused starttls subject-8bit typed-session
      large-message-impaired tls13-starttls-msmtp)
files=()
for c in "${CAPS[@]}"; do files+=("$REPO/Captures/$c.pcap"); done
mergecap -F pcap -w "$TMP/merged.pcap" "${files[@]}" || fail "mergecap"

ip netns add "$NS_A" && ip netns add "$NS_B" || fail "cannot create network namespaces"
ip link add wk-a netns "$NS_A" type veth peer name wk-b netns "$NS_B" || fail "cannot create the veth pair"
ip -n "$NS_A" link set wk-a mtu 9000 up
ip -n "$NS_B" link set wk-b mtu 9000 up
ip netns exec "$NS_B" sysctl -qw net.ipv6.conf.wk-b.disable_ipv6=1

"$BIN" read "$TMP/merged.pcap" --format json > "$TMP/read.jsonl" || fail "smtpscope read"

for n in 1 2; do
    # `ip netns exec` execs the command, so $! is smtpscope itself (--duration: never left running)
    ip netns exec "$NS_B" "$BIN" live -i wk-b --format json --workers $n --duration 60 > "$TMP/live-$n.jsonl" 2> "$TMP/live-$n.err" &
    pid=$!
    sleep 1.5
    ip netns exec "$NS_A" tcpreplay -q -i wk-a --mbps 50 "$TMP/merged.pcap" > /dev/null 2>&1 || fail "tcpreplay"
    sleep 2
    kill -INT $pid
    wait $pid || fail "smtpscope live --workers $n exited $?: $(cat "$TMP/live-$n.err")"
    echo "workers $n: $(cat "$TMP/live-$n.err")"
done
grep -q "workers read [1-9][0-9]*, [1-9][0-9]* packets" "$TMP/live-2.err" || fail "both workers should have read packets: $(cat "$TMP/live-2.err")"

python3 - "$TMP/read.jsonl" "$TMP/live-1.jsonl" "$TMP/live-2.jsonl" <<'EOF' || exit 1
import json, sys
def transactions(path):
    out = []
    for line in open(path):
        o = json.loads(line)
        if o.get("type") != "transaction":
            continue
        out.append(json.dumps([o.get(k) for k in ("client", "server", "mail_from", "rcpt_to", "size", "outcome", "queue_id")] + [(o.get("headers") or {}).get("subject")]))
    return sorted(out)
read, one, two = (transactions(p) for p in sys.argv[1:])
print(f"transactions: read {len(read)}, live 1 worker {len(one)}, live 2 workers {len(two)}")
ok = len(read) > 20 and read == one == two
if not ok:
    for name, got in (("1 worker", one), ("2 workers", two)):
        for t in sorted(set(read) - set(got)): print(f"  {name} misses {t}")
        for t in sorted(set(got) - set(read)): print(f"  {name} adds {t}")
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
EOF
