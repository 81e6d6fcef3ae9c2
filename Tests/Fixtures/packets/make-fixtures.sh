#!/usr/bin/env bash
# Regenerate the packet-capture fixtures in this directory.
#
#   sudo ./make-fixtures.sh                 live captures + derived variants + manifest.json
#   ./make-fixtures.sh --derive-only        keep the live captures, redo variants + manifest
#   ./make-fixtures.sh --manifest-only      only rewrite manifest.json
#
# Live captures need root: the script creates two network namespaces joined by
# two veth pairs, runs a real SMTP server (aiosmtpd) in one and swaks in the
# other, and captures with tcpdump. Only documentation addresses are used
# (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32); nothing leaves the machine.
#
# Needs: iproute2, ethtool, tcpdump, swaks, tshark/editcap/mergecap/capinfos,
# python3 with aiosmtpd (pip install aiosmtpd) for the live part.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE"
SCRIPTS="$HERE/scripts"
MODE="${1:-all}"
export LC_ALL=C TZ=UTC

NS_C=smtpfx-client
NS_S=smtpfx-server
TMP="$(mktemp -d)"
SERVER_PID=""

cleanup() {
    set +e
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    ip netns del "$NS_C" 2>/dev/null
    ip netns del "$NS_S" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

in_c() { ip netns exec "$NS_C" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

# ---------------------------------------------------------------- live part

setup_netns() {
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns add "$NS_C"
    ip netns add "$NS_S"
    # pair A: 192.0.2.0/24 and 2001:db8::/64; pair B: 198.51.100.0/24
    ip link add fxa-c netns "$NS_C" address 02:00:00:00:0a:01 type veth \
        peer name fxa-s netns "$NS_S" address 02:00:00:00:0a:02
    ip link add fxb-c netns "$NS_C" address 02:00:00:00:0b:01 type veth \
        peer name fxb-s netns "$NS_S" address 02:00:00:00:0b:02
    for ns in "$NS_C" "$NS_S"; do
        ip netns exec "$ns" ip link set lo up
    done
    in_c ip addr add 192.0.2.1/24 dev fxa-c
    in_s ip addr add 192.0.2.2/24 dev fxa-s
    in_c ip addr add 2001:db8::1/64 dev fxa-c nodad
    in_s ip addr add 2001:db8::2/64 dev fxa-s nodad
    in_c ip addr add 198.51.100.1/24 dev fxb-c
    in_s ip addr add 198.51.100.2/24 dev fxb-s
    for dev in fxa-c fxb-c; do
        # no checksum offload / segmentation: captured checksums are real
        in_c ethtool -K "$dev" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
        in_c ip link set "$dev" up
    done
    for dev in fxa-s fxb-s; do
        in_s ethtool -K "$dev" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || true
        in_s ip link set "$dev" up
    done
    sleep 1
}

start_server() {
    ip netns exec "$NS_S" python3 "$SCRIPTS/smtp_server.py" 25 192.0.2.2 2001:db8::2 198.51.100.2 \
        >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do
        grep -q listening "$TMP/server.log" && return 0
        sleep 0.1
    done
    echo "SMTP server did not start" >&2
    cat "$TMP/server.log" >&2
    exit 1
}

# start_capture NAME tcpdump-args... ; prints nothing, remembers the pid
declare -A CAP_PID
start_capture() {
    local name=$1; shift
    # run ip directly (no function/subshell) so that $! is tcpdump itself
    ip netns exec "$NS_C" tcpdump -Z root -U -n "$@" 'tcp port 25' >"$TMP/$name.tcpdump.log" 2>&1 &
    CAP_PID[$name]=$!
    for _ in $(seq 50); do
        grep -q "listening on" "$TMP/$name.tcpdump.log" && return 0
        sleep 0.1
    done
    echo "tcpdump $name did not start" >&2
    cat "$TMP/$name.tcpdump.log" >&2
    exit 1
}

stop_captures() {
    sleep 1
    local name
    for name in "$@"; do
        kill -TERM "${CAP_PID[$name]}"
        wait "${CAP_PID[$name]}" || true
    done
}

# send_mail SERVER LOCAL_ADDR LOCAL_PORT LABEL
send_mail() {
    local server=$1 laddr=$2 lport=$3 label=$4
    in_c swaks --server "$server" --port 25 \
        --local-interface "$laddr" --local-port "$lport" \
        --helo client.example.org \
        --from sender@example.org --to rcpt@example.net \
        --timeout 10 \
        --data "From: sender@example.org\nTo: rcpt@example.net\nSubject: fixture $label\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <$label@example.org>\n\nThis is a short test message ($label).\n" \
        >"$TMP/swaks-$label.log" 2>&1 || {
            echo "swaks $label failed" >&2; cat "$TMP/swaks-$label.log" >&2; exit 1; }
}

live_captures() {
    [[ $(id -u) -eq 0 ]] || { echo "live captures need root" >&2; exit 1; }
    setup_netns
    start_server

    # 1. IPv4 exchange on veth A: Ethernet, cooked v1, cooked v2, snaplen 64
    start_capture ethernet -i fxa-c -w "$OUT/ethernet.pcap"
    start_capture sll -i any -y LINUX_SLL -w "$OUT/sll.pcap"
    start_capture sll2 -i any -y LINUX_SLL2 -w "$OUT/sll2.pcap"
    start_capture snap -i fxa-c -s 64 -w "$OUT/snaplen64.pcap"
    send_mail 192.0.2.2 192.0.2.1 40001 ipv4
    stop_captures ethernet sll sll2 snap

    # 2. IPv6 exchange on veth A
    start_capture ipv6 -i fxa-c -w "$OUT/ipv6.pcap"
    send_mail 2001:db8::2 2001:db8::1 40002 ipv6
    stop_captures ipv6

    # 3. two simultaneous exchanges, one per veth pair, captured per interface
    start_capture if-a -i fxa-c -w "$TMP/if-a.pcap"
    start_capture if-b -i fxb-c -w "$TMP/if-b.pcap"
    send_mail 192.0.2.2 192.0.2.1 40003 iface-a &
    local m1=$!
    send_mail 198.51.100.2 198.51.100.1 40004 iface-b &
    local m2=$!
    wait $m1 $m2
    stop_captures if-a if-b
    # -I none: keep one IDB per input file even though they are identical
    mergecap -I none -F pcapng -w "$OUT/two-interfaces.pcapng" "$TMP/if-a.pcap" "$TMP/if-b.pcap"
    python3 "$SCRIPTS/scrub_pcapng.py" "$OUT/two-interfaces.pcapng"

    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
    ip netns del "$NS_C"; ip netns del "$NS_S"
}

# ------------------------------------------------------------- derived part

derive() {
    for f in ethernet.pcap ipv6.pcap; do
        [[ -s "$OUT/$f" ]] || { echo "missing base capture $f; run without --derive-only" >&2; exit 1; }
    done
    python3 "$SCRIPTS/derive.py" "$OUT" "$TMP/derive-facts.json"
    editcap -F nsecpcap "$OUT/ethernet.pcap" "$OUT/ethernet-nsec.pcap"
    editcap -F pcapng "$OUT/ethernet.pcap" "$OUT/ethernet.pcapng"
    editcap -F pcapng "$OUT/ethernet-nsec.pcap" "$OUT/ethernet-nsec.pcapng"
    mergecap -F pcapng -w "$OUT/mixed-linktypes.pcapng" "$OUT/ethernet.pcap" "$TMP/raw101-ipv6.pcap"
    python3 "$SCRIPTS/scrub_pcapng.py" "$OUT/ethernet.pcapng" "$OUT/ethernet-nsec.pcapng" \
        "$OUT/mixed-linktypes.pcapng"
}

manifest() {
    local facts="$TMP/derive-facts.json"
    [[ -f "$facts" ]] || python3 "$SCRIPTS/derive.py" "$TMP/copy" "$facts" 2>/dev/null || true
    python3 "$SCRIPTS/manifest.py" "$OUT" "$facts" >"$OUT/manifest.json"
}

case "$MODE" in
    all) live_captures; derive; manifest ;;
    --derive-only) derive; manifest ;;
    --manifest-only)
        mkdir -p "$TMP/copy"
        cp "$OUT/ethernet.pcap" "$OUT/ipv6.pcap" "$TMP/copy/"
        manifest ;;
    *) echo "usage: $0 [--derive-only|--manifest-only]" >&2; exit 2 ;;
esac
echo "fixtures written to $OUT"
