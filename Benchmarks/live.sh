#!/usr/bin/env bash
# Live capture throughput: replays a benchmark corpus over a veth pair at given rates, into
# `smtpscope live` and into `tcpdump -w /dev/null` in turn, and prints for each rate what the
# kernel dropped and (smtpscope) how many of the corpus's transactions were found.
#
#   Benchmarks/live.sh [--size 1g|100m|NNNs] [--rates 1000,2000,3000,top] [--workers N] [--runs N]
#
# Rates in Mbit/s; `top` replays as fast as tcpreplay can (--topspeed). Needs root (it creates two
# network namespaces joined by a veth pair; nothing leaves this machine) and tcpreplay. Environment
# as run.sh: SMTPSCOPE=binary skips the release build; BENCH_DIR, BENCH_SRC.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${BENCH_SRC:-$repo/../shared/bench}
work=${BENCH_DIR:-/var/tmp/smtpscope-bench}
size=1g
rates=1000,2000,3000,top
workers=1
runs=1
die() { echo "live.sh: $*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --size) size=${2:?}; shift 2 ;;
    --rates) rates=${2:?}; shift 2 ;;
    --workers) workers=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
case $size in
  100m) sessions=1085 ;;
  1g) sessions=11350 ;;
  *s) sessions=${size%s} ;;
  *) die "bad size $size" ;;
esac
missing=()
command -v tcpreplay > /dev/null || missing+=(tcpreplay)
command -v tcpdump > /dev/null || missing+=(tcpdump)
command -v ip > /dev/null || missing+=(iproute2)
if ((${#missing[@]})); then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
mkdir -p "$work"
corpus=$work/corpus-s$sessions-seed1.pcap
if [ ! -f "$corpus" ] || [ ! -f "$corpus.truth.jsonl" ]; then
  echo "generating $corpus"
  python3 "$src/make-corpus.py" --sessions "$sessions" --seed 1 --out "$corpus" > /dev/null
fi
if [ -z "${SMTPSCOPE:-}" ]; then
  (cd "$repo" && swift build -c release --product smtpscope > /dev/null)
  SMTPSCOPE=$(cd "$repo" && swift build -c release --show-bin-path)/smtpscope
fi

# --- the wire: ns A (replay, veth sa) <-> ns B (capture, veth sb) ------------------------------
A=smtpscope-bench-a B=smtpscope-bench-b
cleanup() { ip netns del $A 2> /dev/null || true; ip netns del $B 2> /dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $A
ip netns add $B
ip link add sa netns $A type veth peer name sb netns $B
for ns in $A:sa $B:sb; do
  ip -n "${ns%%:*}" link set "${ns##*:}" mtu 9000 up
  ip -n "${ns%%:*}" link set lo up
done
# The capturing side must not answer the replayed packets (no addresses: nothing is routed there).
ip netns exec $B sysctl -qw net.ipv6.conf.sb.disable_ipv6=1

worker_arg=; [ "$workers" = 1 ] || worker_arg="--workers $workers"
transactions=$(wc -l < "$corpus.truth.jsonl")
packets=$(tcpdump -r "$corpus" -nn 2> /dev/null | wc -l)
echo "corpus: $corpus ($packets packets, $transactions transactions); smtpscope --workers $workers; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-10s %12s %12s %10s %s\n' rate tool received dropped "drop %" "transactions found"

replay() {  # rate
  local args=(--preload-pcap -q -i sa)
  if [ "$1" = top ]; then args+=(--topspeed); else args+=(--mbps "$1"); fi
  ip netns exec $A tcpreplay "${args[@]}" "$corpus" 2>&1 | grep -E "Rated:|Actual:" | tr -s ' ' | sed 's/^ //' | paste -sd' '
}

for rate in ${rates//,/ }; do
  for ((run = 1; run <= runs; run++)); do
    # smtpscope
    out=$work/live-$rate.jsonl err=$work/live-$rate.err
    ip netns exec $B "$SMTPSCOPE" live -i sb --format json $worker_arg > "$out" 2> "$err" &
    pid=$!
    sleep 1
    speed=$(replay "$rate")
    sleep 3
    kill -INT $pid; wait $pid || true
    read -r rcvd drop < <(sed -n 's/.* \([0-9]*\) packets received, \([0-9]*\) dropped by the kernel.*/\1 \2/p' "$err" | awk '{r+=$1; d+=$2} END {print r+0, d+0}')
    found=$({ python3 "$repo/Benchmarks/check_truth.py" "$corpus.truth.jsonl" "$out" 2> /dev/null || true; } | sed -n 's/^truth transactions \([0-9]*\), found \([0-9]*\).*/\2 of \1/p')
    printf '%-8s %-10s %12s %12s %9.3f%% %s\n' "$rate" smtpscope "$rcvd" "$drop" "$(echo "$drop $rcvd" | awk '{ if ($2 == 0) print 0; else print 100*$1/$2 }')" "${found:-?}"
    echo "         replay: $speed"
    # tcpdump, the same way
    err=$work/live-$rate-tcpdump.err
    ip netns exec $B tcpdump -i sb -w /dev/null -B 32768 -nn > /dev/null 2> "$err" &
    pid=$!
    sleep 1
    speed=$(replay "$rate")
    sleep 3
    kill -INT $pid; wait $pid || true
    rcvd=$(sed -n 's/^\([0-9]*\) packets received by filter/\1/p' "$err")
    drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$err")
    printf '%-8s %-10s %12s %12s %9.3f%% %s\n' "$rate" tcpdump "$rcvd" "$drop" "$(echo "${drop:-0} ${rcvd:-0}" | awk '{ if ($2 == 0) print 0; else print 100*$1/$2 }')" -
    echo "         replay: $speed"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
