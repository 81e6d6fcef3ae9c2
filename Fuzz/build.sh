#!/usr/bin/env bash
# Builds the libFuzzer targets of smtpscope (see FUZZING.md at the repository root).
#
#   Fuzz/build.sh            build every target in Fuzz/Targets/
#   Fuzz/build.sh smtp ...   build only the named targets
#
# The pure decoder targets (Vocabulary, Packets, Reassembly, SMTP, Sessions) are separate modules in
# SwiftPM; here they are compiled as ONE module together with the fuzz entry file. A copy of their
# sources is made in the build directory with the intra-package `import X` lines stripped. Nothing
# of the SwiftPM build (.build/) is touched.
#
# Every compile runs under `flock /tmp/swift-build.lock` (the machine is shared: 2 cores).
# Environment: SWIFTC (default: swiftc on PATH, else /opt/swift/usr/bin/swiftc),
#              FUZZ_BUILD_DIR (default: Fuzz/.build), FUZZ_EXTRA_FLAGS (appended to swiftc).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$here/.build}"
swiftc="${SWIFTC:-$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)}"
lock=/tmp/swift-build.lock
modules=(00-Vocabulary 02-Packets 03-Reassembly 05-SMTP 06-ServerLog 06-Sessions)   # folders under Sources/
names=("${modules[@]#*-}")                                                # their module names

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$here"/Targets/*.swift; do targets+=("$(basename "$f" .swift)"); done
fi

# 1. A copy of the pure targets' sources with `import Vocabulary` etc. removed.
src="$build/src"
rm -rf "$src.tmp"
mkdir -p "$src.tmp"
pattern="^[[:space:]]*(@_exported[[:space:]]+|@testable[[:space:]]+)?import[[:space:]]+($(IFS='|'; echo "${names[*]}"))[[:space:]]*$"
for m in "${modules[@]}"; do
    [ -d "$root/Sources/$m" ] || { echo "build.sh: missing Sources/$m" >&2; exit 1; }
    mkdir -p "$src.tmp/$m"
    for f in "$root/Sources/$m"/*.swift; do
        sed -E "s/$pattern//" "$f" > "$src.tmp/$m/$(basename "$f")"
    done
done
# Keep the old copy (and its timestamps) when nothing changed, so `make`-like checks stay valid.
if [ -d "$src" ] && diff -r -q "$src" "$src.tmp" > /dev/null 2>&1; then
    rm -rf "$src.tmp"
else
    rm -rf "$src"
    mv "$src.tmp" "$src"
fi
mapfile -t sources < <(find "$src" -name '*.swift' | sort)

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -enforce-exclusivity=checked
       -module-name SMTPScopeFuzz -swift-version 6)
# shellcheck disable=SC2206
flags+=(${FUZZ_EXTRA_FLAGS:-})

mkdir -p "$build/bin"
for t in "${targets[@]}"; do
    entry="$here/Targets/$t.swift"
    [ -f "$entry" ] || { echo "build.sh: no fuzz target $entry" >&2; exit 1; }
    out="$build/bin/fuzz-$t"
    echo "build.sh: building $out" >&2
    # ld.gold prints one harmless "Cannot export local symbol '__asan_…'" warning per ASan stub.
    flock "$lock" "$swiftc" "${flags[@]}" "${sources[@]}" "$entry" -o "$out.tmp" 2> >(grep -v "Cannot export local symbol '__asan" >&2)
    mv "$out.tmp" "$out"
    # What was built: the commit and whether the fuzzed sources differed from it.
    { echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
      dirty=$(git -C "$root" status --porcelain -- "${modules[@]/#/Sources/}" 2>/dev/null | wc -l)
      echo "uncommitted changes in fuzzed sources: $dirty file(s)"
      echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"; } > "$out.source"
done
