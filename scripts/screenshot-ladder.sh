#!/usr/bin/env bash
# Makes the README's picture of the HTML report: the ladder of the store-and-forward capture
# (Captures/middlebox-store-and-forward-both-legs.pcapng), shown alone (#ladder=1) and taken by
# headless Chromium. Needs chromium (apt-get install -y chromium).
#
#   scripts/screenshot-ladder.sh [OUT.png]      # default docs/images/html-ladder-store-and-forward.png
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/images/html-ladder-store-and-forward.png}
chromium=$(command -v chromium || command -v chromium-browser) || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 2; }
swift build -q --product smtpscope
bin=$(swift build --show-bin-path)/smtpscope
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" read Captures/middlebox-store-and-forward-both-legs.pcapng --html "$tmp/report.html" > /dev/null
flags=(--headless --disable-gpu --no-first-run --hide-scrollbars "--user-data-dir=$tmp/profile")
# Root cannot use Chromium's sandbox.
[ "$(id -u)" = 0 ] && flags+=(--no-sandbox)
"$chromium" "${flags[@]}" --virtual-time-budget=3000 --window-size=1200,1330 "--screenshot=$PWD/$out" "file://$tmp/report.html#ladder=1" > /dev/null 2>&1
echo "wrote $out"
