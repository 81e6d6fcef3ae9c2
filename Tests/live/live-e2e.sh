#!/usr/bin/env bash
# End-to-end test of `smtpscope live` against a real SMTP server, over a veth pair between two
# network namespaces that this script creates (documentation addresses only; nothing leaves the
# machine).
#
#   sudo Tests/live/live-e2e.sh            tests A (latency, -w), A2 (a transaction printed while
#                                          its session stays open), B (clean stop), C (memory)
#   sudo Tests/live/live-e2e.sh latency    tests A, A2 and B only
#   sudo Tests/live/live-e2e.sh memory     test C only
#
# Environment: SMTPSCOPE (binary; default .build/debug/smtpscope), PYTHON (a python3 that can
# import aiosmtpd), MEM_SESSIONS (default 400), MEM_LIMIT_KB (default 8192), LATENCY_LIMIT
# (seconds, default 2), OFFLOADS=on (keep the veth's checksum/segmentation offloads; by default
# they are turned off, see setup_net), SCOPE_ARGS (extra options for smtpscope live, e.g.
# "--pairing never"), KEEP_TMP=1 (keep the logs even on success).
#
# Needs: root, iproute2, ethtool, swaks, python3 with aiosmtpd (Debian python3-aiosmtpd or pip
# aiosmtpd).
set -uo pipefail
export LC_ALL=C TZ=UTC

MODE=${1:-all}
case "$MODE" in all|latency|memory) ;; *) echo "usage: $0 [all|latency|memory]" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${SMTPSCOPE:-$REPO/.build/debug/smtpscope}
MEM_SESSIONS=${MEM_SESSIONS:-400}
MEM_LIMIT_KB=${MEM_LIMIT_KB:-8192}
LATENCY_LIMIT=${LATENCY_LIMIT:-2}

NS_C=smtpscope-e2e-c-$$
NS_S=smtpscope-e2e-s-$$
DEV_C=e2e-c
DEV_S=e2e-s
CLIENT_IP=198.51.100.10
SERVER_IP=198.51.100.25

TMP=""
PIDS=()            # every background process this script started
SCOPE_PID="" STAMP_PID=""

say()  { printf '%s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
need() { printf 'MISSING: %s\n' "$*" >&2; exit 2; }


cleanup() {
    local rc=$? pid ns
    set +e
    # (No `ps` needed: a minimal system may lack it. The ids are our own children's, seconds old.)
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    # anything else still running inside our own namespaces was started by this script
    for ns in "$NS_C" "$NS_S"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    done
    sleep 0.2
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "$NS_C" "$NS_S"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    if [[ -n "$TMP" && -d "$TMP" ]]; then
        if [[ $rc -ne 0 || "${KEEP_TMP:-0}" == 1 ]]; then
            say "logs kept in $TMP"
        else
            rm -rf "$TMP"
        fi
    fi
    if [[ $rc -eq 0 ]]; then say "PASS"; else say "live-e2e: FAILED (exit $rc)" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ prerequisites

[[ $(id -u) -eq 0 ]] || need "root (network namespaces and packet capture): run with sudo"
command -v ip >/dev/null || need "ip (apt-get install iproute2)"
[[ "${OFFLOADS:-off}" == on ]] || command -v ethtool >/dev/null || need "ethtool (apt-get install ethtool), or OFFLOADS=on"
[[ -x "$BIN" ]] || need "smtpscope binary $BIN (build it with 'swift build', or set SMTPSCOPE)"
if [[ "$MODE" != memory ]]; then command -v swaks >/dev/null || need "swaks (apt-get install swaks)"; fi
PY=""
for cand in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import aiosmtpd' 2>/dev/null; then PY=$("$cand" -c 'import sys; print(sys.executable)'); break; fi
done
[[ -n "$PY" ]] || need "a python3 that can import aiosmtpd (apt-get install python3-aiosmtpd, or pip install aiosmtpd; PYTHON=/path/to/python3 picks one)"

TMP=$(mktemp -d /tmp/smtpscope-live-e2e.XXXXXX)
say "smtpscope: $BIN ($("$BIN" --version 2>&1 | head -1))"
say "python:    $PY (aiosmtpd $("$PY" -c 'import aiosmtpd; print(aiosmtpd.__version__)'))"

# Line timestamper: "<unix time with µs> <line>" for each line as it arrives.
cat >"$TMP/stamp.py" <<'EOF'
import sys, time
out = sys.stdout
for line in iter(sys.stdin.buffer.readline, b""):
    out.write("%.6f %s" % (time.time(), line.decode("utf-8", "replace")))
    if not line.endswith(b"\n"):
        out.write("\n")
    out.flush()
EOF

# Reads a stamped smtpscope JSON output: STAMPED-FILE COMMAND ARGS...
cat >"$TMP/rec.py" <<'EOF'
import json, sys
path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
recs, bad = [], []
for n, raw in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
    raw = raw.rstrip("\n")
    if not raw:
        continue
    stamp, _, text = raw.partition(" ")
    try:
        r = json.loads(text)
        if not isinstance(r, dict) or "type" not in r:
            raise ValueError("no type")
        recs.append((float(stamp), r))
    except ValueError as e:
        bad.append("line %d: %s: %s" % (n, e, text[:200]))
def of(t):
    return [(s, r) for s, r in recs if r["type"] == t]
if cmd == "validate":                       # every line is a JSON record with a type
    for b in bad: print(b)
    sys.exit(1 if bad else 0)
elif cmd == "count":                        # count TYPE [OUTCOME]
    print(sum(1 for s, r in of(args[0]) if len(args) < 2 or r.get("outcome") == args[1]))
elif cmd == "find":                         # find TYPE FIELD VALUE -> "<arrival> <outcome> <end>"
    for s, r in of(args[0]):
        if str(r.get(args[1])) == args[2]:
            print("%.6f %s %s" % (s, r.get("outcome"), r.get("end")))
            break
    else:
        sys.exit(1)
elif cmd == "outcomes":                     # outcomes -> "queued=5 incomplete=1"
    c = {}
    for s, r in of("transaction"): c[r["outcome"]] = c.get(r["outcome"], 0) + 1
    print(" ".join("%s=%d" % kv for kv in sorted(c.items())) or "none")
elif cmd == "last-type":
    print(recs[-1][1]["type"] if recs else "none")
elif cmd == "summary":
    s = of("summary")
    print(json.dumps(s[-1][1], separators=(",", ":")) if s else "none")
EOF

# Parses `smtpscope read --format json` output (not stamped): prints "transactions=N queued=N".
cat >"$TMP/read.py" <<'EOF'
import json, sys
want = set(sys.argv[1:])
t = q = 0
for line in sys.stdin:
    r = json.loads(line)
    if r.get("type") == "transaction":
        t += 1
        if r.get("outcome") == "queued" and r.get("mail_from") in want:
            q += 1
print("transactions=%d matching-queued=%d" % (t, q))
EOF

# A session that stays open: hold.py SERVER SECONDS MODE. MODE "open": banner, EHLO, MAIL, RCPT,
# then prints "PORT" and sleeps. MODE "deliver": banner, EHLO, a whole transaction (MAIL, RCPT,
# DATA, message), then prints "PORT TIME" (TIME: when the 250 to the message arrived) and sleeps.
cat >"$TMP/hold.py" <<'EOF'
import socket, sys, time
server, seconds, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.create_connection((server, 25), timeout=10)
f = s.makefile("rb")
def send(line, expect):
    if line is not None:
        s.sendall(line + b"\r\n")
    while True:
        l = f.readline()
        if not l:
            sys.exit("hold: connection closed after %r" % line)
        if l[3:4] != b"-":
            break
    if not l.startswith(expect):
        sys.exit("hold: unexpected reply %r to %r" % (l, line))
send(None, b"220")
send(b"EHLO %s.example.net" % mode.encode(), b"250")
if mode == "deliver":
    send(b"MAIL FROM:<streamed@example.net>", b"250")
    send(b"RCPT TO:<bob@example.org>", b"250")
    send(b"DATA", b"354")
    send(b"Subject: streamed while the session stays open\r\n\r\nHello.\r\n.", b"250")
    print(s.getsockname()[1], "%.6f" % time.time(), flush=True)
else:
    send(b"MAIL FROM:<hold@example.net>", b"250")
    send(b"RCPT TO:<bob@example.org>", b"250")
    print(s.getsockname()[1], flush=True)
time.sleep(seconds)
EOF

# Many short deliveries: SERVER FIRST COUNT
cat >"$TMP/bulk.py" <<'EOF'
import smtplib, sys
server, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + count):
    msg = ("From: bulk%d@example.net\r\nTo: bob@example.org\r\nSubject: bulk %d\r\n"
           "Message-ID: <bulk%d@example.net>\r\n\r\nShort message %d.\r\n") % (i, i, i, i)
    with smtplib.SMTP(server, 25, local_hostname="bulk.example.net", timeout=10) as s:
        s.sendmail("bulk%d@example.net" % i, ["bob@example.org"], msg)
EOF

# ------------------------------------------------------------------ helpers

in_c() { ip netns exec "$NS_C" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }
now()  { printf '%s' "$EPOCHREALTIME"; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
rec()  { "$PY" "$TMP/rec.py" "$@"; }
cnt()  { local n; n=$(grep -c -F "\"type\":\"$2\"" "$1" 2>/dev/null); echo "${n:-0}"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

setup_net() {
    ip netns add "$NS_C" || fail "ip netns add $NS_C"
    ip netns add "$NS_S" || fail "ip netns add $NS_S"
    ip link add "$DEV_C" netns "$NS_C" type veth peer name "$DEV_S" netns "$NS_S" || fail "veth pair"
    in_c ip link set lo up
    in_s ip link set lo up
    in_c ip addr add "$CLIENT_IP/24" dev "$DEV_C"
    in_s ip addr add "$SERVER_IP/24" dev "$DEV_S"
    if [[ "${OFFLOADS:-off}" != on ]]; then
        # Without offloads libpcap's ring (immediate mode, TPACKET_V2) has ~5000 frames of 1600
        # bytes; with them (the veth default) only 128 frames of 64 KiB, which a short stall of
        # smtpscope overflows. OFFLOADS=on keeps the defaults.
        in_c ethtool -K "$DEV_C" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || fail "ethtool -K $DEV_C"
        in_s ethtool -K "$DEV_S" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 || fail "ethtool -K $DEV_S"
    fi
    in_c ip link set "$DEV_C" up
    in_s ip link set "$DEV_S" up
    local i
    for i in $(seq 50); do
        [[ "$(in_c cat "/sys/class/net/$DEV_C/operstate")" == up && "$(in_s cat "/sys/class/net/$DEV_S/operstate")" == up ]] && return 0
        sleep 0.1
    done
    fail "the veth pair $DEV_C/$DEV_S did not come up"
}

start_server() {
    in_s "$PY" -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l "$SERVER_IP:25" >"$TMP/aiosmtpd.log" 2>&1 &
    PIDS+=($!)
    local i
    for i in $(seq 100); do
        if in_c "$PY" -c "import socket,sys; s=socket.create_connection(('$SERVER_IP',25),1); sys.exit(0 if s.recv(512).startswith(b'220') else 1)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    cat "$TMP/aiosmtpd.log" >&2
    fail "aiosmtpd did not start on $SERVER_IP:25"
}

# start_scope NAME ARGS...: smtpscope live in the server namespace, stdout through the
# timestamper into $TMP/NAME.out, stderr into $TMP/NAME.err; waits until the capture is open.
start_scope() {
    local name=$1; shift
    rm -f "$TMP/$name.fifo"; mkfifo "$TMP/$name.fifo"
    "$PY" "$TMP/stamp.py" <"$TMP/$name.fifo" >"$TMP/$name.out" &
    STAMP_PID=$!; PIDS+=("$STAMP_PID")
    # `ip netns exec` execs the command, so $! is smtpscope itself
    # shellcheck disable=SC2086  # SCOPE_ARGS: extra options, split on blanks
    ip netns exec "$NS_S" "$BIN" live -i "$DEV_S" --format json ${SCOPE_ARGS:-} "$@" >"$TMP/$name.fifo" 2>"$TMP/$name.err" &
    SCOPE_PID=$!; PIDS+=("$SCOPE_PID")
    local i
    for i in $(seq 100); do
        kill -0 "$SCOPE_PID" 2>/dev/null || { cat "$TMP/$name.err" >&2; fail "smtpscope live exited at start"; }
        # the capture is open once smtpscope holds a packet socket
        if [[ "$(readlink "/proc/$SCOPE_PID/exe")" == *smtpscope* ]] &&
           [[ $(wc -l <"/proc/$SCOPE_PID/net/packet" 2>/dev/null || echo 0) -gt 1 ]]; then
            sleep 0.3   # filter and dump file are set up right after the socket
            return 0
        fi
        sleep 0.1
    done
    fail "smtpscope live did not open a capture on $DEV_S within 10 s (pid $SCOPE_PID, exe $(readlink "/proc/$SCOPE_PID/exe"))"
}

# stop_scope NAME SIGNAL: sends the signal, waits up to 10 s; sets SCOPE_RC and STOP_SECS.
stop_scope() {
    local name=$1 sig=$2 t0 i
    t0=$(now)
    kill -"$sig" "$SCOPE_PID" || fail "cannot signal smtpscope (pid $SCOPE_PID): already gone?"
    for i in $(seq 100); do
        kill -0 "$SCOPE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SCOPE_PID" 2>/dev/null; then
        kill -KILL "$SCOPE_PID"
        fail "smtpscope still running 10 s after SIG$sig"
    fi
    wait "$SCOPE_PID"; SCOPE_RC=$?
    STOP_SECS=$(fsub "$(now)" "$t0")
    wait "$STAMP_PID"
}

# wait_count FILE TYPE N TIMEOUT: waits until FILE has N records of TYPE.
wait_count() {
    local file=$1 type=$2 n=$3 timeout=$4 t0
    t0=$SECONDS
    while (( $(cnt "$file" "$type") < n )); do
        (( SECONDS - t0 >= timeout )) && return 1
        kill -0 "$SCOPE_PID" 2>/dev/null || return 1
        sleep 0.05
    done
}

# wait_line FILE PID ERRFILE WHAT: waits up to 10 s for FILE to have a line, while PID runs.
wait_line() {
    local file=$1 pid=$2 err=$3 what=$4 k
    for k in $(seq 200); do
        [[ -s "$file" ]] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$err" >&2; fail "$what exited early"; }
        sleep 0.05
    done
    return 1
}

# close_of FILE CLIENT: the close reason in CLIENT's session record.
close_of() { grep -F "\"client\":\"$2\"" "$1" | grep -F '"type":"session"' | grep -o '"close":"[a-z-]*"' | head -1; }

check_stats_line() {
    local err=$1
    grep -E -q '^smtpscope: [0-9]+ packets received, [0-9]+ dropped by the kernel, [0-9]+ dropped by the interface$' "$err" ||
        { cat "$err" >&2; fail "stderr has no 'N packets received, N dropped by the kernel, N dropped by the interface' line"; }
    local stats extra kdrop idrop
    stats=$(grep -E 'packets received' "$err" | tail -1)
    say "  stderr: $stats"
    extra=$(grep -v -E 'packets received' "$err")
    [[ -z "$extra" ]] || say "  NOTE: other stderr output: $extra"
    kdrop=$(sed -E 's/.* ([0-9]+) dropped by the kernel.*/\1/' <<<"$stats")
    idrop=$(sed -E 's/.* ([0-9]+) dropped by the interface.*/\1/' <<<"$stats")
    (( kdrop == 0 && idrop == 0 )) || fail "libpcap dropped packets ($kdrop by the kernel, $idrop by the interface): the results above are not trustworthy"
}

# ------------------------------------------------------------------ tests

test_latency_and_stop() {
    say ""
    say "== Test A: each transaction is printed within ${LATENCY_LIMIT}s of swaks returning (with -w)"
    local pcap="$TMP/a-evidence.pcap"
    start_scope ab -w "$pcap"
    local i t_done line arrival outcome end delay worst=0 delays=()
    for i in 1 2 3 4 5; do
        in_c swaks --server "$SERVER_IP" --port 25 --helo client.example.net \
            --from "latency$i@example.net" --to bob@example.org --timeout 10 \
            --header "Subject: live latency $i" --body "Latency test message $i." \
            >"$TMP/swaks-$i.log" 2>&1 || { cat "$TMP/swaks-$i.log" >&2; fail "swaks delivery $i failed"; }
        t_done=$(now)
        # give it up to 10 s to show up (the limit is checked below, on the measured delay)
        local t0=$SECONDS
        until grep -q -F "\"mail_from\":\"latency$i@example.net\"" "$TMP/ab.out"; do
            (( SECONDS - t0 >= 10 )) && fail "transaction $i (latency$i@example.net) not printed within 10 s of swaks returning"
            kill -0 "$SCOPE_PID" 2>/dev/null || { cat "$TMP/ab.err" >&2; fail "smtpscope died during test A"; }
            sleep 0.02
        done
        line=$(rec "$TMP/ab.out" find transaction mail_from "latency$i@example.net") || fail "transaction $i not found in JSON output"
        read -r arrival outcome end <<<"$line"
        delay=$(fsub "$arrival" "$t_done")
        local end_epoch
        end_epoch=$(date -u -d "$end" +%s.%N 2>/dev/null || echo "$arrival")
        say "  message $i: outcome $outcome, line printed $(printf '%+.3f' "$delay")s after swaks returned ($(fsub "$arrival" "$end_epoch")s after the transaction's last packet)"
        [[ "$outcome" == queued ]] || fail "message $i: outcome '$outcome', expected 'queued'"
        awk -v d="$delay" -v l="$LATENCY_LIMIT" 'BEGIN { exit !(d > l) }' && fail "message $i: printed ${delay}s after swaks returned (limit ${LATENCY_LIMIT}s)"
        delays+=("$delay")
    done
    local n_tx n_q
    n_tx=$(rec "$TMP/ab.out" count transaction)
    n_q=$(rec "$TMP/ab.out" count transaction queued)
    [[ $n_tx -eq 5 && $n_q -eq 5 ]] || fail "expected 5 transactions, all queued; got $n_tx ($(rec "$TMP/ab.out" outcomes))"
    say "  5 transactions, all queued; delays after swaks returned: ${delays[*]} s (max allowed ${LATENCY_LIMIT}s)"
    # the 5 swaks sessions ended with QUIT: their session records should be out too (not a hard
    # requirement of the brief, but report it)
    wait_count "$TMP/ab.out" session 5 3 && say "  5 session records printed" || say "  NOTE: only $(cnt "$TMP/ab.out" session) session records printed for the 5 finished sessions"

    say ""
    say "== Test A2: a transaction is printed while its session stays open"
    in_c "$PY" "$TMP/hold.py" "$SERVER_IP" 60 deliver >"$TMP/deliver.out" 2>"$TMP/deliver.err" &
    local deliver_pid=$!; PIDS+=("$deliver_pid")
    local dport dtime
    wait_line "$TMP/deliver.out" "$deliver_pid" "$TMP/deliver.err" "the delivering client" || fail "the delivering client did not get its 250 within 10 s"
    read -r dport dtime <"$TMP/deliver.out"
    local dclient="$CLIENT_IP:$dport" t0=$SECONDS
    until grep -q -F '"mail_from":"streamed@example.net"' "$TMP/ab.out"; do
        (( SECONDS - t0 >= 10 )) && fail "the transaction of the still-open session $dclient was not printed within 10 s of its 250 (printed only when the session ends?)"
        sleep 0.02
    done
    line=$(rec "$TMP/ab.out" find transaction mail_from streamed@example.net) || fail "streamed transaction not found in JSON output"
    read -r arrival outcome end <<<"$line"
    delay=$(fsub "$arrival" "$dtime")
    say "  session $dclient still open; its transaction printed $(printf '%+.3f' "$delay")s after the client got the 250 (outcome $outcome)"
    [[ "$outcome" == queued ]] || fail "streamed transaction: outcome '$outcome', expected 'queued'"
    awk -v d="$delay" -v l="$LATENCY_LIMIT" 'BEGIN { exit !(d > l) }' && fail "streamed transaction printed ${delay}s after its 250 (limit ${LATENCY_LIMIT}s)"
    rec "$TMP/ab.out" find session client "$dclient" >/dev/null && fail "a session record for $dclient was printed although the connection is still open"

    say ""
    say "== Test B: SIGINT with sessions still open"
    in_c "$PY" "$TMP/hold.py" "$SERVER_IP" 60 open >"$TMP/hold.out" 2>"$TMP/hold.err" &
    local hold_pid=$!; PIDS+=("$hold_pid")
    wait_line "$TMP/hold.out" "$hold_pid" "$TMP/hold.err" "the hold-open client" || fail "the hold-open client did not get through RCPT within 10 s"
    local port
    port=$(head -1 "$TMP/hold.out")
    say "  open session from $CLIENT_IP:$port (banner, EHLO, MAIL, RCPT sent, no DATA); $dclient open too (one transaction done)"
    sleep 1   # let smtpscope read those packets
    stop_scope ab INT
    kill -TERM "$hold_pid" "$deliver_pid" 2>/dev/null
    say "  smtpscope exited with status $SCOPE_RC, ${STOP_SECS}s after SIGINT"
    [[ $SCOPE_RC -eq 0 ]] || { cat "$TMP/ab.err" >&2; fail "exit status $SCOPE_RC after SIGINT, expected 0"; }
    rec "$TMP/ab.out" validate || fail "stdout has lines that are not JSON records"
    local client="$CLIENT_IP:$port" tline sline
    tline=$(rec "$TMP/ab.out" find transaction client "$client") || tline=""
    sline=$(rec "$TMP/ab.out" find session client "$client") || sline=""
    if [[ -n "$tline" ]]; then
        read -r _ outcome _ <<<"$tline"
        say "  open session's transaction printed at stop: outcome $outcome"
        [[ "$outcome" == incomplete ]] || fail "the open session's transaction has outcome '$outcome', expected 'incomplete'"
    elif [[ -n "$sline" ]]; then
        say "  NOTE: no transaction record for the open session, only its session record"
    else
        fail "nothing printed for the open session $client at stop"
    fi
    [[ -n "$sline" ]] && say "  session record for $client printed: $(close_of "$TMP/ab.out" "$client")" || say "  NOTE: no session record for $client"
    local n_streamed
    n_streamed=$(grep -F "\"client\":\"$dclient\"" "$TMP/ab.out" | grep -c -F '"type":"transaction"')
    [[ $n_streamed -eq 1 ]] || fail "$dclient: $n_streamed transaction records, expected its one transaction printed once"
    rec "$TMP/ab.out" find session client "$dclient" >/dev/null || fail "no session record for the open session $dclient at stop"
    say "  $dclient: its transaction not repeated at stop; session record printed: $(close_of "$TMP/ab.out" "$dclient")"
    local summary last
    summary=$(rec "$TMP/ab.out" summary)
    [[ "$summary" != none ]] || fail "no summary record"
    last=$(rec "$TMP/ab.out" last-type)
    [[ "$last" == summary ]] || fail "the last record is '$last', expected the summary"
    say "  summary: ${summary:0:200}"
    check_stats_line "$TMP/ab.err"
    local records
    records=$(wc -l <"$TMP/ab.out")
    say "  records: $records lines; transactions: $(rec "$TMP/ab.out" outcomes)"

    say ""
    say "== Test A (cont.): the -w file is a readable pcap with the 5 transactions"
    [[ -s "$pcap" ]] || fail "-w $pcap is missing or empty"
    local out rc
    out=$("$BIN" read "$pcap" --format json 2>"$TMP/read.err"); rc=$?
    [[ $rc -eq 0 ]] || { cat "$TMP/read.err" >&2; fail "smtpscope read $pcap exited with $rc"; }
    local res
    res=$(printf '%s\n' "$out" | "$PY" "$TMP/read.py" latency1@example.net latency2@example.net latency3@example.net latency4@example.net latency5@example.net) ||
        fail "smtpscope read output is not JSON lines"
    say "  $(stat -c %s "$pcap") bytes, magic $(od -An -tx1 -N4 "$pcap" | tr -d ' '); smtpscope read: $res"
    [[ "$res" == *"matching-queued=5"* ]] || fail "smtpscope read -w file: expected the 5 queued transactions, got $res"
}

# mem_missing MESSAGE N: stops smtpscope, shows what it printed for the deliveries that were
# missing (as incomplete sessions at stop) and what the -w file holds of them, then fails.
mem_missing() {
    local msg=$1 n=$2
    say "  $msg; stopping smtpscope to see what it still held"
    kill -0 "$SCOPE_PID" 2>/dev/null && stop_scope mem TERM && say "  smtpscope exited with status $SCOPE_RC"
    say "  stderr: $(cat "$TMP/mem.err")"
    local kdrop
    kdrop=$(sed -n -E 's/.* ([0-9]+) dropped by the kernel.*/\1/p' "$TMP/mem.err")
    [[ -n "$kdrop" && "$kdrop" != 0 ]] && msg="$msg; libpcap dropped $kdrop packets (kernel ring full)"
    "$PY" - "$TMP/mem.out" "$n" <<'PYEOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
seen, sessions, late = {}, {}, []
for line in open(path):
    stamp, _, text = line.partition(" ")
    r = json.loads(text)
    if r["type"] == "transaction":
        seen.setdefault(r["mail_from"], []).append(r)
    elif r["type"] == "session":
        sessions[r["client"]] = r
for i in range(n):
    ts = seen.get("bulk%d@example.net" % i, [])
    if len(ts) == 1 and ts[0]["outcome"] == "queued" and sessions.get(ts[0]["client"], {}).get("close") == "quit":
        continue
    print("  delivery %d: %d transaction record(s): %s" % (i, len(ts), [(t["client"], t["outcome"], t["session"]) for t in ts]))
    for t in ts:
        s = sessions.get(t["client"])
        if s:
            print("    session %s: close %s, transactions %s, bytes %s, gaps %s, anomalies %s" % (
                s["session"], s["close"], s["transactions"], s["bytes"], s["gaps"], [a["name"] for a in s["anomalies"]]))
for c, s in sessions.items():
    if s["close"] != "quit":
        print("  session %s %s: close %s, transactions %s, bytes %s" % (s["session"], c, s["close"], s["transactions"], s["bytes"]))
PYEOF
    fail "$msg"
}

test_memory() {
    say ""
    say "== Test C: RSS after 100 and after $MEM_SESSIONS short sessions (limit +$((MEM_LIMIT_KB / 1024)) MB)"
    start_scope mem -w "$TMP/c-evidence.pcap"
    local done_n=0 step t0 rss rss100="" rssN="" samples=()
    t0=$(now)
    local rss0
    rss0=$(rss_kb "$SCOPE_PID")
    samples+=("0:${rss0}kB")
    while (( done_n < MEM_SESSIONS )); do
        step=100; (( done_n + step > MEM_SESSIONS )) && step=$((MEM_SESSIONS - done_n))
        in_c "$PY" "$TMP/bulk.py" "$SERVER_IP" "$done_n" "$step" 2>"$TMP/bulk.err" ||
            { cat "$TMP/bulk.err" >&2; fail "smtplib deliveries $done_n..$((done_n + step - 1)) failed"; }
        done_n=$((done_n + step))
        wait_count "$TMP/mem.out" transaction "$done_n" 10 ||
            mem_missing "after $done_n deliveries only $(cnt "$TMP/mem.out" transaction) transactions printed within 10 s" "$done_n"
        wait_count "$TMP/mem.out" session "$done_n" 10 ||
            mem_missing "after $done_n deliveries only $(cnt "$TMP/mem.out" session) session records printed within 10 s" "$done_n"
        sleep 0.3
        rss=$(rss_kb "$SCOPE_PID")
        [[ -n "$rss" ]] || fail "cannot read VmRSS of smtpscope (pid $SCOPE_PID)"
        samples+=("$done_n:${rss}kB")
        (( done_n == 100 )) && rss100=$rss
        rssN=$rss
    done
    local secs
    secs=$(fsub "$(now)" "$t0")
    say "  $MEM_SESSIONS sessions in ${secs}s; VmRSS by sessions done: ${samples[*]}"
    local n_q
    n_q=$(rec "$TMP/mem.out" count transaction queued)
    [[ $n_q -eq $MEM_SESSIONS ]] || fail "expected $MEM_SESSIONS queued transactions, got $(rec "$TMP/mem.out" outcomes)"
    stop_scope mem TERM
    [[ $SCOPE_RC -eq 0 ]] || { cat "$TMP/mem.err" >&2; fail "exit status $SCOPE_RC after SIGTERM, expected 0"; }
    rec "$TMP/mem.out" validate || fail "stdout has lines that are not JSON records"
    [[ "$(rec "$TMP/mem.out" last-type)" == summary ]] || fail "no summary record at the end after SIGTERM"
    check_stats_line "$TMP/mem.err"
    [[ -n "$rss100" ]] || fail "fewer than 100 sessions: set MEM_SESSIONS to at least 100"
    local growth=$((rssN - rss100))
    say "  VmRSS after 100 sessions: ${rss100} kB; after $MEM_SESSIONS: ${rssN} kB; growth $growth kB ($(awk -v g="$growth" -v n=$((MEM_SESSIONS - 100)) 'BEGIN { printf "%.1f", n ? g * 1024 / n : 0 }') bytes per session)"
    (( growth <= MEM_LIMIT_KB )) || fail "VmRSS grew by $growth kB between 100 and $MEM_SESSIONS sessions (limit $MEM_LIMIT_KB kB)"
}

# ------------------------------------------------------------------ main

setup_net
start_server
say "namespaces $NS_C ($CLIENT_IP) and $NS_S ($SERVER_IP), aiosmtpd on $SERVER_IP:25, capturing on $DEV_S"
T_START=$SECONDS
case "$MODE" in
    all)     test_latency_and_stop; test_memory ;;
    latency) test_latency_and_stop ;;
    memory)  test_memory ;;
esac
say ""
say "all checks passed in $((SECONDS - T_START)) s"
exit 0
