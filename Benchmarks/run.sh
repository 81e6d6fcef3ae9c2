#!/usr/bin/env bash
# Measures smtpscope's speed and memory against the libpcap floor (pcaploop) and tshark, on
# generated SMTP corpora, and checks smtpscope's JSON output against the corpus truth.
#
#   Benchmarks/run.sh [--sizes 100m,1g] [--runs N]
#
# Sizes: 100m (1085 sessions), 1g (11350 sessions), or NNNs for NNN sessions (e.g. 60s, for a
# quick try). Environment: SMTPSCOPE=binary skips the release build and uses that binary;
# SMTPSCOPE_BASE=binary also runs an older build in turn with it (JSON) and compares the two;
# BENCH_DIR=dir is the work dir (default /var/tmp/smtpscope-bench; corpora are kept and reused);
# BENCH_SRC=dir holds make-corpus.py and pcaploop.c (default ../shared/bench beside the repo).
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${BENCH_SRC:-$repo/../shared/bench}
work=${BENCH_DIR:-/var/tmp/smtpscope-bench}
sizes=100m,1g
runs=3
seed=1

die() { echo "run.sh: $*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --sizes) sizes=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (usage: run.sh [--sizes 100m,1g] [--runs N])" ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
sessions_for() {
  case $1 in
    100m) echo 1085 ;;
    1g) echo 11350 ;;
    *s) [[ ${1%s} =~ ^[1-9][0-9]*$ ]] && echo "${1%s}" || die "bad size $1" ;;
    *) die "bad size $1 (100m, 1g or NNNs)" ;;
  esac
}
IFS=, read -ra size_list <<< "$sizes"
for s in "${size_list[@]}"; do sessions_for "$s" > /dev/null; done
[ -f "$src/make-corpus.py" ] && [ -f "$src/pcaploop.c" ] || die "make-corpus.py and pcaploop.c not found in $src"

# --- tools ------------------------------------------------------------------------------------
missing=()
command -v tshark > /dev/null || missing+=(tshark)
command -v gcc > /dev/null || missing+=(gcc)
[ -f /usr/include/pcap/pcap.h ] || missing+=(libpcap-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ -x /usr/bin/time ] || missing+=(time)
if ((${#missing[@]})); then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing ${missing[*]}"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

mkdir -p "$work"
if [ -z "${SMTPSCOPE:-}" ]; then
  (cd "$repo" && swift build -c release --product smtpscope)
  SMTPSCOPE=$repo/.build/release/smtpscope
fi
gcc -O2 -o "$work/pcaploop" "$src/pcaploop.c" -lpcap

# corpus SESSIONS: generates (or reuses) the corpus, prints its path
corpus() {
  local f=$work/corpus-s$1-seed$seed.pcap stamp
  stamp="sessions=$1 seed=$seed generator=$(sha256sum < "$src/make-corpus.py" | cut -c1-16)"
  if [ -s "$f" ] && [ -s "$f.truth.jsonl" ] && [ -s "$f.log" ] && [ "$(cat "$f.params" 2> /dev/null)" = "$stamp" ]; then
    echo "reusing $f" >&2
  else
    echo "generating $f ($1 sessions)" >&2
    rm -f "$f.params"
    python3 "$src/make-corpus.py" --sessions "$1" --seed "$seed" --out "$f" 2> "$f.log" ||
      { cat "$f.log" >&2; die "corpus generation failed"; }
    echo "$stamp" > "$f.params"
  fi
  echo "$f"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run_once TOOL SIZE OUTFILE COMMAND...: one timed run, appended to SECS/RSS[TOOL,SIZE].
# Wall time is taken around /usr/bin/time (whose %e has only 10 ms resolution); RSS is its %M.
declare -A T R SECS RSSES
run_once() {
  local tool=$1 size=$2 out=$3 t0
  shift 3
  t0=$EPOCHREALTIME
  if ! /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" > "$out" 2> "$work/stderr.txt"; then
    cat "$work/stderr.txt" >&2
    die "failed: $*"
  fi
  SECS[$tool,$size]+=" $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')"
  RSSES[$tool,$size]+=" $(tail -n 1 "$work/time.txt" | cut -d' ' -f2)"
}
# settle TOOL SIZE: medians into T and R.
settle() {
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  T[$1,$2]=$(median ${SECS[$1,$2]})
  # shellcheck disable=SC2086
  R[$1,$2]=$(median ${RSSES[$1,$2]})
}

tools=("pcaploop" "pcaploop -a" "tshark" "smtpscope json" "smtpscope text")
[ -n "${SMTPSCOPE_BASE:-}" ] && tools+=("baseline json")
declare -A BYTES PACKETS VERDICT INFO OPEN
status=0
echo "smtpscope: $SMTPSCOPE ($(git -C "$repo" describe --always --dirty 2> /dev/null || echo unknown))"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for size in "${size_list[@]}"; do
  f=$(corpus "$(sessions_for "$size")")
  out=$work/out-$size.jsonl
  BYTES[$size]=$(stat -c %s "$f")
  echo "measuring $size: $f, ${BYTES[$size]} bytes, median of $runs runs (tshark: 1 run)" >&2
  cat "$f" > /dev/null   # warm-up: the file is in the page cache from here on
  INFO[$size]=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))
print("%(bytes)d bytes, %(packets)d packets, %(sessions)d sessions, %(transactions)d transactions, "
      "%(concurrency_max)d sessions open at once at most (median %(concurrency_median_after_rampup)d)" % s)' "$f.log")
  OPEN[$size]=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["concurrency_max"])' "$f.log")
  run_once "tshark" "$size" /dev/null tshark -r "$f" -Y smtp.req.command -T fields -e smtp.req.command -e smtp.req.parameter
  # The tools take turns, run after run: a machine that slows down for a while slows all alike.
  for ((i = 0; i < runs; i++)); do
    run_once "pcaploop" "$size" "$work/pcaploop.out" "$work/pcaploop" "$f"
    run_once "pcaploop -a" "$size" /dev/null "$work/pcaploop" -a "$f"
    run_once "smtpscope json" "$size" "$out" "$SMTPSCOPE" read --format json "$f"
    run_once "smtpscope text" "$size" /dev/null "$SMTPSCOPE" read "$f"
    if [ -n "${SMTPSCOPE_BASE:-}" ]; then
      run_once "baseline json" "$size" "$work/out-base-$size.jsonl" "$SMTPSCOPE_BASE" read --format json "$f"
    fi
  done
  for tool in "${tools[@]}"; do settle "$tool" "$size"; done
  PACKETS[$size]=$(awk '{ print $2 }' "$work/pcaploop.out")
  if VERDICT[$size]=$(python3 "$repo/Benchmarks/check_truth.py" "$f.truth.jsonl" "$out"); then :; else status=1; fi
done

# --- report -----------------------------------------------------------------------------------
for size in "${size_list[@]}"; do echo "corpus $size: ${INFO[$size]}"; done
echo
printf '%-15s %-6s %10s %10s %12s %12s\n' tool size seconds MB/s packets/s "peak RSS MB"
for size in "${size_list[@]}"; do
  for tool in "${tools[@]}"; do
    awk -v tool="$tool" -v size="$size" -v t="${T[$tool,$size]}" -v b="${BYTES[$size]}" \
        -v p="${PACKETS[$size]}" -v r="${R[$tool,$size]}" \
        'BEGIN { printf "%-15s %-6s %10.3f %10.0f %12.0f %12.1f\n", tool, size, t, b / 1e6 / t, p / t, r / 1024 }'
  done
done
echo
echo "smtpscope against its targets"
for size in "${size_list[@]}"; do
  for mode in json text; do
    awk -v m="$mode" -v size="$size" -v t="${T[smtpscope $mode,$size]}" -v floor="${T[pcaploop -a,$size]}" \
        -v ts="${T[tshark,$size]}" -v r="${R[smtpscope $mode,$size]}" '
      function mark(ok) { return ok ? "ok" : "MISSED" }
      BEGIN {
        printf "%-4s %-6s time / pcaploop -a %6.2fx (<= 2x %s)   speed-up vs tshark %6.1fx (>= 50x %s)   RSS %6.1f MB (< 100 MB %s)\n",
          m, size, t / floor, mark(t / floor <= 2), ts / t, mark(ts / t >= 50), r / 1024, mark(r / 1024 < 100)
      }'
  done
done
if [ -n "${SMTPSCOPE_BASE:-}" ]; then
  echo
  echo "against the baseline ($SMTPSCOPE_BASE), JSON"
  for size in "${size_list[@]}"; do
    same=$(cmp -s "$work/out-$size.jsonl" "$work/out-base-$size.jsonl" && echo "same output" || echo "OUTPUT DIFFERS")
    awk -v size="$size" -v t="${T[smtpscope json,$size]}" -v b="${T[baseline json,$size]}" \
        -v r="${R[smtpscope json,$size]}" -v rb="${R[baseline json,$size]}" -v same="$same" '
      function mark(ok) { return ok ? "ok" : "MISSED" }
      BEGIN { printf "%-6s time %.3f s / %.3f s = %.3f (within 5%% %s)   RSS %.1f / %.1f MB = %.3f (within 5%% %s)   %s\n",
        size, t, b, t / b, mark(t / b <= 1.05), r / 1024, rb / 1024, r / rb, mark(r / rb <= 1.05), same }'
  done
fi
if ((${#size_list[@]} > 1)); then
  first=${size_list[0]} last=${size_list[-1]}
  for mode in json text; do
    awk -v m="$mode" -v a="${R[smtpscope $mode,$first]}" -v b="${R[smtpscope $mode,$last]}" -v f="$first" -v l="$last" \
        -v ca="${OPEN[$first]}" -v cb="${OPEN[$last]}" -v sa="${BYTES[$first]}" -v sb="${BYTES[$last]}" '
      BEGIN {
        printf "%-4s RSS %s / RSS %s = %.2f; open connections %.2fx, file size %.1fx: memory follows the open connections (%s)\n",
          m, l, f, b / a, cb / ca, sb / sa, (b / a <= cb / ca ? "ok" : "MISSED")
      }'
  done
fi
for size in "${size_list[@]}"; do
  echo
  echo "truth check, $size ($work/out-$size.jsonl):"
  echo "${VERDICT[$size]}"
done
exit $status
