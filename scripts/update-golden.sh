#!/usr/bin/env bash
# Regenerates the golden outputs in Tests/Golden/ from the captures in Captures/. Golden files are
# produced by the code and checked by a person once: review the diff before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -q
bin=$(swift build --show-bin-path)/smtpscope
mkdir -p Tests/Golden
for pcap in Captures/*.pcap Captures/*.pcapng; do
  name=$(basename "$pcap")
  name=${name%.*}
  # A fixed width, so that cutting long values is covered too (without a terminal, lines are
  # written whole; tests check that separately).
  NO_COLOR=1 "$bin" read --width 120 "$pcap" > "Tests/Golden/$name.txt"
  "$bin" read --format json "$pcap" > "Tests/Golden/$name.jsonl"
done
echo "updated $(ls Tests/Golden | wc -l) golden files; review with: git diff --stat Tests/Golden"
