#!/usr/bin/env bash
# Runs one fuzz target for a while:  Fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# - builds Fuzz/.build/bin/fuzz-TARGET first when it is missing or older than its sources;
# - working corpus: /var/tmp/smtpscope-fuzz/TARGET (kept between runs), read together with the
#   seeds in Fuzz/corpus/TARGET (which are never written to);
# - crashes, timeouts and OOMs are written to Fuzz/crashes/TARGET/;
# - the log goes to /var/tmp/smtpscope-fuzz/logs/TARGET-<date>.log; a summary is printed at the end.
# Only one fuzzer runs at a time (a lock in /var/tmp/smtpscope-fuzz): the machine has 2 cores.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: Fuzz/run.sh TARGET SECONDS [libFuzzer flags...]" >&2; exit 2; }
target="$1"
seconds="$2"
shift 2
[ -f "$here/Targets/$target.swift" ] || { echo "run.sh: no target $target (see Fuzz/Targets/)" >&2; exit 2; }

bin="${FUZZ_BUILD_DIR:-$here/.build}/bin/fuzz-$target"
if [ ! -x "$bin" ] || [ -n "$(find "$root"/Sources/{00-Vocabulary,02-Packets,03-Reassembly,04-TLS,05-SMTP,06-ServerLog,06-Sessions} "$root/Package.swift" "$here/Targets/$target.swift" "$here/build.sh" -newer "$bin" -print -quit)" ]; then
    "$here/build.sh" "$target" || exit 1
fi

work=/var/tmp/smtpscope-fuzz
corpus="$work/$target"
crashes="$here/crashes/$target"
logs="$work/logs"
mkdir -p "$corpus" "$crashes" "$logs"
log="$logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"

# Swift's own crash backtracer would hold the process for a long time on a trap: let libFuzzer and
# ASan report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:symbolize=1}"
command -v llvm-symbolizer > /dev/null || export ASAN_SYMBOLIZER_PATH=/opt/swift/usr/bin/llvm-symbolizer

stamp="$work/.start-$target-$$"
touch "$stamp"
start=$(date +%s)
echo "run.sh: $bin for ${seconds}s, corpus $corpus (+ seeds $here/corpus/$target), log $log" >&2
flock "$work/.run.lock" "$bin" "$corpus" "$here/corpus/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$@" > "$log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
new_crashes=$(find "$crashes" -type f -newer "$stamp" | wc -l)
rm -f "$stamp"

stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
last=$(grep -E '^#[0-9]+.*(cov|ft):' "$log" | tail -1)
execs=$(stat number_of_executed_units)
echo "target:       $target"
echo "duration:     ${elapsed}s (asked ${seconds}s)"
echo "executions:   ${execs:-?}"
echo "execs/s:      $(stat average_exec_per_sec)"
echo "coverage:     $(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$last") edges, $(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$last") features"
echo "corpus:       $(sed -nE 's/.* corp: ([^ ]+).*/\1/p' <<< "$last") (in memory), $(ls "$corpus" | wc -l) files in $corpus"
echo "peak rss:     $(stat peak_rss_mb) MB"
echo "crashes:      $new_crashes new in $crashes"
echo "exit status:  $status"
echo "log:          $log"
echo "built from:   $(tr '\n' ';' < "$bin.source" 2>/dev/null)"
if [ "$status" -ne 0 ]; then
    grep -E "^(==[0-9]+==ERROR|SUMMARY|Fatal error|.*fuzz invariant)|artifact_prefix|Test unit written" "$log" | head -10
fi
exit "$status"
