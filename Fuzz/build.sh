#!/usr/bin/env bash
# Builds the libFuzzer targets of smtpscope (see FUZZING.md at the repository root).
#
#   Fuzz/build.sh            build every target in Fuzz/Targets/
#   Fuzz/build.sh smtp ...   build only the named targets
#
# The pure decoder targets (Vocabulary, Packets, Reassembly, TLS, SMTP, Sessions) are separate modules
# in SwiftPM; here they are compiled as ONE module together with the fuzz entry file. A copy of their
# sources is made in the build directory with the intra-package `import X` lines stripped. TLS and
# SMTP import swift-crypto, swift-certificates and swift-asn1: SwiftPM builds those once, in release,
# in its own scratch directory (Fuzz/.build/spm); the fused module imports their modules and links
# their objects, uninstrumented, so that the fuzzer's coverage is our code and not BoringSSL's.
# Nothing of the SwiftPM build (.build/) is touched.
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
modules=(00-Vocabulary 02-Packets 03-Reassembly 04-TLS 05-SMTP 06-ServerLog 06-Sessions)   # folders under Sources/
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

# 2. The package's dependencies, built by SwiftPM as the package declares them (versions from
# Package.resolved), with the same swiftc. `--target TLS` builds exactly the closure TLS and SMTP need
# (Crypto, _CryptoExtras, X509, SwiftASN1 and their C modules). It takes minutes, so it runs again
# only when Package.swift or Package.resolved is newer than the last successful build.
spm="$build/spm"
swift="$(dirname "$swiftc")/swift"
stamp="$spm/.built"
if [ ! -f "$stamp" ] || [ -n "$(find "$root/Package.swift" "$root/Package.resolved" -newer "$stamp" -print 2>/dev/null)" ]; then
    echo "build.sh: building the package's dependencies in $spm (once; a few minutes)" >&2
    (cd "$root" && flock "$lock" "$swift" build -c release --scratch-path "$spm" --target TLS) >&2
    touch "$stamp"
fi
deps="$spm/release"
# Objects of every dependency target: all that SwiftPM built except the package's own targets (our
# sources are compiled into the fused module instead; linking both would define every symbol twice).
own="^($(IFS='|'; echo "${names[*]}"))\.build$"
objects=()
for d in "$deps"/*.build; do
    [[ "$(basename "$d")" =~ $own ]] && continue
    mapfile -t -O "${#objects[@]}" objects < <(find "$d" -name '*.o' | sort)
done
# The C modules (CCryptoBoringSSL, its shims, …) are found through their module maps, as SwiftPM
# passes them to the targets that import Crypto.
dep_flags=(-I "$deps/Modules")
while IFS= read -r map; do
    dep_flags+=(-Xcc "-fmodule-map-file=$map" -Xcc -I -Xcc "$(dirname "$map")")
done < <(find "$spm/checkouts" -path '*/Sources/*/include/module.modulemap' | sort)

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -enforce-exclusivity=checked
       -module-name SMTPScopeFuzz -swift-version 6 "${dep_flags[@]}"
       -module-cache-path "$build/ModuleCache")   # the C modules' cache beside the fuzz build, not shared
# shellcheck disable=SC2206
flags+=(${FUZZ_EXTRA_FLAGS:-})

mkdir -p "$build/bin"
for t in "${targets[@]}"; do
    entry="$here/Targets/$t.swift"
    [ -f "$entry" ] || { echo "build.sh: no fuzz target $entry" >&2; exit 1; }
    out="$build/bin/fuzz-$t"
    echo "build.sh: building $out" >&2
    # ld.gold prints one harmless "Cannot export local symbol '__asan_…'" warning per ASan stub.
    # -lstdc++: BoringSSL (CCryptoBoringSSL) is C++ and SwiftPM links it with the C++ runtime too.
    flock "$lock" "$swiftc" "${flags[@]}" "${sources[@]}" "$entry" "${objects[@]}" -lstdc++ -o "$out.tmp" 2> >(grep -v "Cannot export local symbol '__asan" >&2)
    mv "$out.tmp" "$out"
    # What was built: the commit and whether the fuzzed sources differed from it.
    { echo "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
      dirty=$(git -C "$root" status --porcelain -- "${modules[@]/#/Sources/}" 2>/dev/null | wc -l)
      echo "uncommitted changes in fuzzed sources: $dirty file(s)"
      echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"; } > "$out.source"
done
