#!/usr/bin/env bash
# Measures `smtpscope correlate` over the JSON of two capture points against `smtpscope read` of
# the two captures together, on generated SMTP corpora, and checks that both find the same pairs
# and that legs divided among four runs by their key find them too.
#
#   Benchmarks/correlate.sh [--sizes 100m,1g] [--runs N] [--shift SECONDS]
#
# The two capture points: the corpus as captured (point A) and the same capture with every time
# moved by --shift seconds (default 2.5; editcap -t), as a second capture point on a machine whose
# clock is off: every connection is seen at both points. Sizes and environment as for run.sh
# (SMTPSCOPE=binary, BENCH_DIR, BENCH_SRC); corpora are shared with run.sh.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${BENCH_SRC:-$repo/../shared/bench}
work=${BENCH_DIR:-/var/tmp/smtpscope-bench}
sizes=100m,1g
runs=3
shift_seconds=2.5
seed=1

die() { echo "correlate.sh: $*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --sizes) sizes=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --shift) shift_seconds=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (usage: correlate.sh [--sizes 100m,1g] [--runs N] [--shift SECONDS])" ;;
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
[ -f "$src/make-corpus.py" ] || die "make-corpus.py not found in $src"
for tool in editcap python3 /usr/bin/time; do command -v "$tool" > /dev/null || die "$tool is needed (apt-get install wireshark-common python3 time)"; done

mkdir -p "$work"
if [ -z "${SMTPSCOPE:-}" ]; then
  (cd "$repo" && swift build -c release --product smtpscope)
  SMTPSCOPE=$repo/.build/release/smtpscope
fi

# corpus SESSIONS: generates (or reuses) the corpus, prints its path (as run.sh does).
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

# run_once STEP SIZE OUTFILE COMMAND...: one timed run; wall time around GNU time, RSS its %M.
declare -A SECS RSSES T R
run_once() {
  local step=$1 size=$2 out=$3 t0
  shift 3
  t0=$EPOCHREALTIME
  if ! /usr/bin/time -f '%e %M' -o "$work/correlate-time.txt" "$@" > "$out" 2> "$work/correlate-stderr.txt"; then
    cat "$work/correlate-stderr.txt" >&2
    die "failed: $*"
  fi
  SECS[$step,$size]+=" $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }')"
  RSSES[$step,$size]+=" $(tail -n 1 "$work/correlate-time.txt" | cut -d' ' -f2)"
}
settle() {
  # shellcheck disable=SC2086 # space-separated numbers
  T[$1,$2]=$(median ${SECS[$1,$2]})
  # shellcheck disable=SC2086
  R[$1,$2]=$(median ${RSSES[$1,$2]})
}

# Pairs in terms that do not depend on how sessions were numbered (each leg named by its capture
# and endpoints, numbers in sentences blanked, combined_session left out), one per line, sorted.
normalize() {
  python3 - "$@" << 'EOF'
import json, re, sys
out_path, *sources = sys.argv[1:]
names = {}
def records(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line.startswith('{"type":"session"') or line.startswith('{"type":"intercept"') or line.startswith('{"type":"same_connection"'):
                yield json.loads(line)
for path in sources:
    for r in records(path):
        if r["type"] == "session":
            names[(r["capture"]["file"], r["session"])] = "%s %s > %s" % (r["capture"]["file"], r["client"], r["server"])
numbers = re.compile(r"sessions? \d+( [⇄≡] \d+(, \d+)*)?")
rows = []
for r in records(out_path):
    if r["type"] == "intercept":
        r["client_leg"] = names[(r["client_capture"], r["client_leg"])]
        r["server_leg"] = [names[(r["server_capture"], s)] for s in r["server_leg"]]
    elif r["type"] == "same_connection":
        for side in ("near_client", "near_server"):
            r[side]["session"] = names[(r[side]["capture"], r[side]["session"])]
        r["combined_session"] = None
    else:
        continue
    rows.append(numbers.sub("session #", json.dumps(r, sort_keys=True, ensure_ascii=False)))
print("\n".join(sorted(rows)))
EOF
}

# split4 OUTPREFIX FILE...: the leg records divided into four files by FNV-1a of their key, each
# in the order the sessions ended (as a topic that the capture points append to has them).
split4() {
  python3 - "$@" << 'EOF'
import json, sys
prefix, *inputs = sys.argv[1:]
parts = [[] for k in range(4)]
for path in inputs:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line.startswith('{"type":"leg"'):
                r = json.loads(line)
                h = 0xcbf29ce484222325
                for b in r["key"].encode("utf-8", "surrogateescape"):
                    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
                parts[h % 4].append((r["end_ns"], line))
sizes = []
for k, part in enumerate(parts):
    with open("%s%d.jsonl" % (prefix, k), "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write("".join(line for _, line in sorted(part, key=lambda p: p[0])))
        sizes.append(str(f.tell()))
print(" ".join(sizes))
EOF
}

steps=("read A+B (pcaps)" "read A (json)" "read B (json)" "correlate A B")
declare -A CHECK PARTS INFO LEGS PAIRS
status=0
echo "smtpscope: $SMTPSCOPE ($(git -C "$repo" describe --always --dirty 2> /dev/null || echo unknown))"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for size in "${size_list[@]}"; do
  a=$(corpus "$(sessions_for "$size")")
  b=$work/correlate-$size-shifted.pcap
  [ -s "$b" ] && [ "$b" -nt "$a" ] && [ "$(cat "$b.shift" 2> /dev/null)" = "$shift_seconds" ] ||
    { editcap -t "$shift_seconds" "$a" "$b" && echo "$shift_seconds" > "$b.shift"; }
  ja=$work/correlate-$size-A.jsonl jb=$work/correlate-$size-B.jsonl
  INFO[$size]="$(stat -c %s "$a") bytes a capture point, $(sessions_for "$size") sessions"
  echo "measuring $size: $a and $b (shifted $shift_seconds s), median of $runs runs" >&2
  cat "$a" "$b" > /dev/null   # warm-up: both files in the page cache from here on
  for ((i = 0; i < runs; i++)); do
    run_once "read A+B (pcaps)" "$size" "$work/correlate-$size-together.jsonl" "$SMTPSCOPE" read --format json "$a" "$b"
    run_once "read A (json)" "$size" "$ja" "$SMTPSCOPE" read --format json "$a"
    run_once "read B (json)" "$size" "$jb" "$SMTPSCOPE" read --format json "$b"
    run_once "correlate A B" "$size" "$work/correlate-$size-out.jsonl" "$SMTPSCOPE" correlate --format json "$ja" "$jb"
  done
  for step in "${steps[@]}"; do settle "$step" "$size"; done
  LEGS[$size]=$(cat "$ja" "$jb" | grep -c '^{"type":"leg"' || true)
  PAIRS[$size]=$(grep -c -e '^{"type":"same_connection"' -e '^{"type":"intercept"' "$work/correlate-$size-out.jsonl" || true)
  normalize "$work/correlate-$size-together.jsonl" "$work/correlate-$size-together.jsonl" > "$work/correlate-$size-expected.txt"
  normalize "$work/correlate-$size-out.jsonl" "$ja" "$jb" > "$work/correlate-$size-got.txt"
  if cmp -s "$work/correlate-$size-expected.txt" "$work/correlate-$size-got.txt"; then
    CHECK[$size]="same pairs as read A+B: $(grep -c . "$work/correlate-$size-got.txt" || true) records"
  else
    CHECK[$size]="PAIRS DIFFER from read A+B (diff $work/correlate-$size-expected.txt $work/correlate-$size-got.txt)"
    status=1
  fi
  # Four partitions by key, one correlate each: the union of their pairs is the one run's.
  sizes4=$(split4 "$work/correlate-$size-part" "$ja" "$jb")
  for k in 0 1 2 3; do "$SMTPSCOPE" correlate --format json "$work/correlate-$size-part$k.jsonl"; done |
    grep -e '^{"type":"same_connection"' -e '^{"type":"intercept"' | sort > "$work/correlate-$size-split.txt" || true
  grep -e '^{"type":"same_connection"' -e '^{"type":"intercept"' "$work/correlate-$size-out.jsonl" | sort > "$work/correlate-$size-whole.txt" || true
  if cmp -s "$work/correlate-$size-whole.txt" "$work/correlate-$size-split.txt"; then
    PARTS[$size]="4 partitions by key (bytes: $sizes4): the same $(grep -c . "$work/correlate-$size-whole.txt" || true) records as one run"
  else
    PARTS[$size]="4 partitions by key: RECORDS DIFFER from one run (diff $work/correlate-$size-whole.txt $work/correlate-$size-split.txt)"
    status=1
  fi
done
# Memory against input length: the first size's legs repeated 1, 4 and 16 times, each copy an
# hour after the one before (beyond the 30-minute pairing window), as hours of the same traffic.
first=${size_list[0]}
declare -A LONG
for copies in 1 4 16; do
  for point in A B; do
    python3 - "$work/correlate-$first-$point.jsonl" "$copies" "$work/correlate-long-$point.jsonl" << 'EOF'
import re, sys
src, copies, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
legs = [l for l in open(src, encoding="utf-8", errors="surrogateescape") if l.startswith('{"type":"leg"')]
times = re.compile(r'"start_ns":(\d+),"end_ns":(\d+)')
with open(out, "w", encoding="utf-8", errors="surrogateescape") as f:
    for k in range(copies):
        d = k * 3600 * 10**9
        for l in legs:
            f.write(times.sub(lambda m: '"start_ns":%d,"end_ns":%d' % (int(m.group(1)) + d, int(m.group(2)) + d), l, count=1))
EOF
  done
  run_once "long $copies" "$first" "$work/correlate-long-out.jsonl" "$SMTPSCOPE" correlate --format json "$work/correlate-long-A.jsonl" "$work/correlate-long-B.jsonl"
  settle "long $copies" "$first"
  LONG[$copies]="$(stat -c %s "$work/correlate-long-A.jsonl") bytes a point, $(grep -c -e '^{"type":"same_connection"' -e '^{"type":"intercept"' "$work/correlate-long-out.jsonl" || true) pairs"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
for size in "${size_list[@]}"; do echo "corpus $size: ${INFO[$size]}; ${LEGS[$size]} leg records, ${PAIRS[$size]} pairs"; done
echo
printf '%-18s %-6s %10s %12s\n' step size seconds "peak RSS MB"
for size in "${size_list[@]}"; do
  for step in "${steps[@]}"; do
    awk -v step="$step" -v size="$size" -v t="${T[$step,$size]}" -v r="${R[$step,$size]}" \
        'BEGIN { printf "%-18s %-6s %10.3f %12.1f\n", step, size, t, r / 1024 }'
  done
done
echo
echo "hours of the $first corpus at two points, one correlate over all of them (legs let go after the window; the pairs found are held to the end):"
for copies in 1 4 16; do
  awk -v c="$copies" -v t="${T[long $copies,$first]}" -v r="${R[long $copies,$first]}" -v info="${LONG[$copies]}" \
      'BEGIN { printf "  %2d hour(s): %8.3f s %8.1f MB peak RSS  (%s)\n", c, t, r / 1024, info }'
done
echo
for size in "${size_list[@]}"; do
  echo "$size: ${CHECK[$size]}"
  echo "$size: ${PARTS[$size]}"
done
exit $status
