#!/usr/bin/env bash
# The HTML report at scale: its size and how long headless Chromium takes to open it, for corpora
# of N sessions made by make-corpus.py.
#
#   Benchmarks/html.sh [--sessions 1000,10000] [--runs N]
#
# Environment: SMTPSCOPE=binary (default: the debug or release build found in .build), BENCH_DIR
# (default /var/tmp/smtpscope-bench; corpora are kept and reused), BENCH_SRC (default
# ../shared/bench beside the repo). Needs python3 and chromium.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "$0")/.." && pwd)
src=${BENCH_SRC:-$repo/../shared/bench}
work=${BENCH_DIR:-/var/tmp/smtpscope-bench}
counts=1000,10000
runs=3

die() { echo "html.sh: $*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --sessions) counts=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (usage: html.sh [--sessions 1000,10000] [--runs N])" ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
[ -f "$src/make-corpus.py" ] || die "make-corpus.py not found in $src"
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || die "chromium not found (apt-get install -y chromium)"
bin=${SMTPSCOPE:-}
if [ -z "$bin" ]; then
  for b in "$repo/.build/release/smtpscope" "$repo/.build/debug/smtpscope"; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || die "no smtpscope binary: build it or set SMTPSCOPE"
mkdir -p "$work"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# Root cannot use Chromium's sandbox.
flags=(--headless --disable-gpu --no-first-run --hide-scrollbars "--user-data-dir=$profile")
[ "$(id -u)" = 0 ] && flags+=(--no-sandbox)

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-9s %12s %13s %14s %16s\n' sessions "HTML bytes" "bytes/session" "page ready ms" "screenshot s"
IFS=, read -ra list <<< "$counts"
for n in "${list[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad session count $n"
  corpus=$work/html-corpus-$n.pcap
  [ -f "$corpus" ] || python3 "$src/make-corpus.py" --sessions "$n" --seed 1 --out "$corpus" > /dev/null
  page=$work/html-report-$n.html
  "$bin" read --format json "$corpus" --html "$page" > /dev/null
  size=$(stat -c %s "$page")
  ready=() shot=()
  for _ in $(seq "$runs"); do
    # The page writes, once its script has drawn it, the milliseconds since navigation began.
    ms=$("$chromium" "${flags[@]}" --dump-dom "file://$page" 2> /dev/null | grep -o 'data-render-ms="[0-9]*"' | grep -o '[0-9]*' || true)
    [ -n "$ms" ] || die "the page did not finish rendering ($page)"
    ready+=("$ms")
    # The whole browser: start, load, lay out, paint the first screen, write the PNG, exit.
    t0=$(date +%s.%N)
    "$chromium" "${flags[@]}" --window-size=1200,1000 "--screenshot=$work/html-report-$n.png" "file://$page" > /dev/null 2>&1
    t1=$(date +%s.%N)
    shot+=("$(awk "BEGIN { print $t1 - $t0 }")")
  done
  printf '%-9s %12s %13s %14s %16.2f\n' "$n" "$size" "$((size / n))" "$(printf '%s\n' "${ready[@]}" | median)" "$(printf '%s\n' "${shot[@]}" | median)"
done
