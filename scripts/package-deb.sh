#!/usr/bin/env bash
# Builds smtpscope for machines without a Swift toolchain (a mail server, a gateway) and writes
# smtpscope_VERSION_ARCH.deb into the current directory. The release binary has the Swift runtime
# linked in (--static-swift-stdlib), so it needs only glibc, libpcap and zlib (and libstdc++ and
# libgcc, which every Debian system has). The package holds the binary, a man page made by
# swift-argument-parser's manual generator, bash, zsh and fish completions, the copyright file and
# a changelog; its version is `smtpscope --version` (Sources/11-smtpscope/Version.swift).
#
# usage: scripts/package-deb.sh [--dry-run | --no-build | --print-version]
#   --dry-run        build and write nothing; print the control file the package would have
#                    (Depends carry versions only once a release build exists)
#   --no-build       package the binary and man page of the last release build as they are
#   --print-version  print the package version and exit
#
# Environment: SCRATCH (the release build's directory, default .build-release, so that the debug
# build in .build survives), SWIFT_BUILD_LOCK (swift commands run under `flock` on this file so
# that builds sharing a machine take turns; default /tmp/swift.lock, empty for no lock),
# DEBFULLNAME and DEBEMAIL (the Maintainer field, as dch reads them).
# Needs: the Swift toolchain, libpcap-dev, zlib1g-dev, binutils and dpkg-dev (dpkg-shlibdeps; without
# it, libc6's minimum version comes from the newest glibc symbol version the binary uses).
set -euo pipefail
export LC_ALL=C

out=$PWD
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

mode=build
case "${1:-}" in
  "") ;;
  --dry-run) mode=dry-run ;;
  --no-build) mode=no-build ;;
  --print-version) mode=version ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--dry-run | --no-build | --print-version]" >&2; exit 64 ;;
esac
[ $# -le 1 ] || { echo "usage: $0 [--dry-run | --no-build | --print-version]" >&2; exit 64; }

die() { echo "package-deb: $*" >&2; exit 1; }

# One version for the binary and the package: the string literal in Version.swift.
version=$(sed -n 's/^let smtpscopeVersion = "\([^"]*\)"$/\1/p' Sources/11-smtpscope/Version.swift)
# A Debian version without a revision (a native package): digits first, then [A-Za-z0-9.+~].
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "no usable version in Sources/11-smtpscope/Version.swift (found '$version')"
if [ "$mode" = version ]; then echo "$version"; exit 0; fi

arch=$(dpkg --print-architecture)
scratch=${SCRATCH:-.build-release}
case "$scratch" in /*) ;; *) scratch=$repo/$scratch ;; esac
lockfile=${SWIFT_BUILD_LOCK-/tmp/swift.lock}
bin=$scratch/release/smtpscope
manual_dir=.build/plugins/GenerateManual/outputs/smtpscope
debug_bin=.build/debug/smtpscope
deb=smtpscope_${version}_${arch}.deb

locked() {
  if [ -n "$lockfile" ] && command -v flock >/dev/null; then flock "$lockfile" "$@"; else "$@"; fi
}

# The Debian package that has the shared library $1 (a NEEDED name), as ldconfig finds it; dpkg
# knows each file by one of its names (/lib/… or /usr/lib/… on a merged-/usr system).
package_of() {
  local path p
  path=$(ldconfig -p | awk -v l="$1" '$1 == l && $NF ~ /^\// {print $NF; exit}')
  [ -n "$path" ] || return 0
  for p in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
    dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 | grep . && return 0
  done
  return 0
}

# Every library the binary loads must come from a Debian package: one from the Swift toolchain
# (libswiftCore.so, libFoundation.so …) means the runtime was not linked in, and the package
# would not run where it is installed.
check_libraries() {
  local lib
  for lib in $(objdump -p "$1" | awk '$1 == "NEEDED" {print $2}'); do
    if [ -n "$(package_of "$lib")" ]; then
      continue
    else
      echo "package-deb: $1 needs $lib, which no installed Debian package provides (was it built with --static-swift-stdlib?)" >&2
      return 1
    fi
  done
}

# Depends from the libraries the binary loads: dpkg-shlibdeps (the minimum version of each package
# from the symbols used), else libc6's minimum from the newest GLIBC_ symbol version and the other
# packages without a version.
depends_of() {
  local tmp line
  if command -v dpkg-shlibdeps >/dev/null; then
    tmp=$(mktemp -d)
    mkdir "$tmp/debian"
    printf 'Source: smtpscope\n\nPackage: smtpscope\nArchitecture: any\n' >"$tmp/debian/control"
    line=$(cd "$tmp" && dpkg-shlibdeps -O "-e$1" 2>"$tmp/log") || { sed 's/^/  /' "$tmp/log" >&2; line=""; }
    rm -rf "$tmp"
    if [ -n "$line" ]; then echo "${line#shlibs:Depends=}"; return; fi
  fi
  echo "package-deb: dpkg-shlibdeps is missing or failed; libc6's version from the glibc symbols" >&2
  local glibc pkgs lib
  glibc=$(objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  pkgs=()
  for lib in $(objdump -p "$1" | awk '$1 == "NEEDED" {print $2}'); do
    pkgs+=("$(package_of "$lib")")
  done
  printf '%s\n' "${pkgs[@]}" | sort -u | grep -v '^$' | sed "s/^libc6\$/libc6 (>= $glibc)/" | paste -sd, | sed 's/,/, /g'
}

control() {  # control DEPENDS [INSTALLED-SIZE]
  cat <<EOF
Package: smtpscope
Version: $version
Architecture: $arch
Maintainer: ${DEBFULLNAME:-smtpscope maintainers} <${DEBEMAIL:-smtpscope@example.org}>
EOF
  [ -z "${2:-}" ] || echo "Installed-Size: $2"
  cat <<EOF
Depends: $1
Section: net
Priority: optional
Description: SMTP sessions from packet captures: what really crossed the wire
 smtpscope reads packet captures (pcap or pcapng, plain or gzip-compressed) or
 captures live on an interface, puts the TCP streams of SMTP sessions back
 together and prints every session as a timeline: each command with the reply
 it got, each mail transaction with its outcome and queue id, and findings
 such as RSET where DATA was expected or passwords sent without TLS.
 .
 Given captures of both legs of an intercepted connection (an anti-virus mail
 shield, a firewall that inspects SMTP), it pairs them and shows what the
 middlebox did. STARTTLS and port 465 are decrypted with the client's key log.
EOF
}

if [ "$mode" = dry-run ]; then
  depends="libc6, libpcap0.8, zlib1g"
  if [ -x "$bin" ] && check_libraries "$bin" 2>/dev/null; then depends=$(depends_of "$bin"); fi
  control "$depends"
  exit 0
fi

if [ "$mode" = build ]; then
  SECONDS=0
  mkdir -p "$scratch"
  # The manual plugin builds the whole package itself before it runs the generator on the binary
  # (`smtpscope --experimental-dump-help`). In the release directory that build would link the
  # Swift runtime dynamically, and the static build after it would compile every module again, so
  # it builds the debug configuration in the usual .build instead, and the help both binaries
  # give is compared below.
  locked swift package plugin generate-manual --configuration debug --date "$(git log -1 --format=%cs 2>/dev/null || date -u +%F)" \
    >"$scratch/package-deb-manual.log" 2>&1 || { tail -20 "$scratch/package-deb-manual.log" >&2; die "swift package plugin generate-manual failed"; }
  # --disable-local-rpath: no RUNPATH $ORIGIN, so the installed binary never looks in /usr/bin
  # for a shared library.
  locked swift build -c release --static-swift-stdlib --disable-local-rpath --scratch-path "$scratch" --product smtpscope >"$scratch/package-deb-build.log" 2>&1 \
    || { grep -E "error|warning:" "$scratch/package-deb-build.log" >&2; die "the release build failed (log: $scratch/package-deb-build.log)"; }
  echo "built in ${SECONDS} s"
fi

[ -x "$bin" ] || die "no release build at $bin"
check_libraries "$bin" || exit 1
! objdump -p "$bin" | grep -qE '^ *(RPATH|RUNPATH) ' || die "$bin has a library search path (RUNPATH); build it with --disable-local-rpath"
[ -f "$manual_dir/smtpscope.1" ] || die "no man page at $manual_dir/smtpscope.1"
said=$("$bin" --version)
[ "$said" = "$version" ] || die "$bin --version says '$said', the package would say '$version'"
# The man page describes the debug build's command line: it must be the release binary's too.
[ -x "$debug_bin" ] && [ "$("$debug_bin" --experimental-dump-help)" = "$("$bin" --experimental-dump-help)" ] \
  || die "the man page ($manual_dir) was made from a debug build whose options differ from $bin; run without --no-build"

umask 022
# Files dated by the commit, so that the same commit gives the same package.
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$epoch
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$root/usr/share/doc/smtpscope" \
  "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"

# Stripped as dh_strip does: symbol tables and notes out, what the Swift runtime reads (its
# metadata sections) in.
install -m 755 "$bin" "$root/usr/bin/smtpscope"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/smtpscope"
[ "$("$root/usr/bin/smtpscope" --version)" = "$version" ] || die "the stripped binary does not run"

# The generator copies the blank lines between paragraphs of the help into the page, where groff
# warns about each; .Pp is mdoc's paragraph break.
sed 's/^$/.Pp/' "$manual_dir/smtpscope.1" | gzip -9n >"$root/usr/share/man/man1/smtpscope.1.gz"
# Completion files are sourced, not run: no #! line.
"$root/usr/bin/smtpscope" --generate-completion-script bash | sed '1{/^#!/d}' >"$root/usr/share/bash-completion/completions/smtpscope"
"$root/usr/bin/smtpscope" --generate-completion-script zsh >"$root/usr/share/zsh/vendor-completions/_smtpscope"
"$root/usr/bin/smtpscope" --generate-completion-script fish >"$root/usr/share/fish/vendor_completions.d/smtpscope.fish"

years=$(git log --format=%cs 2>/dev/null | cut -c1-4 | sort -u | sed -n '1p;$p' | paste -sd- | sed 's/^\([0-9]*\)-\1$/\1/')
years=${years:-$(date -u +%Y)}
cat >"$root/usr/share/doc/smtpscope/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: smtpscope
Comment: /usr/bin/smtpscope is statically linked with the Swift runtime and Foundation and with
 the Swift packages named below (the Files: patterns are their source trees).

Files: *
Copyright: $years the smtpscope authors
License: unspecified
 The smtpscope sources do not state a license yet.

Files: swift/* swift-foundation/*
Copyright: Apple Inc. and the Swift project authors
License: Apache-2.0 with Runtime Library Exception
 The Swift runtime and Foundation are licensed under the Apache License,
 Version 2.0, with the Runtime Library Exception (https://swift.org/LICENSE.txt).
 On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.

Files: swift-argument-parser/*
Copyright: 2020-2025 Apple Inc. and the Swift project authors
License: Apache-2.0

Files: swift-asn1/*
Copyright: 2019-2023 Apple Inc. and the SwiftASN1 project authors
License: Apache-2.0

Files: swift-certificates/*
Copyright: 2019-2025 Apple Inc. and the SwiftCertificates project authors
License: Apache-2.0

Files: swift-crypto/*
Copyright: 2019-2026 Apple Inc. and the SwiftCrypto project authors
License: Apache-2.0

Files: swift-crypto/Sources/CCryptoBoringSSL/*
Copyright: 1995-2016 The OpenSSL Project Authors
 2014-2024 The BoringSSL Authors
 and the other holders named in its files
License: Apache-2.0

License: Apache-2.0
 On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF

{
  echo "smtpscope ($version) unstable; urgency=medium"
  echo
  echo "  * Release $version: $(git log -1 --format=%h 2>/dev/null || echo 'built from source')."
  echo
  echo " -- ${DEBFULLNAME:-smtpscope maintainers} <${DEBEMAIL:-smtpscope@example.org}>  $(date -u -R -d "@$epoch")"
} | gzip -9n >"$root/usr/share/doc/smtpscope/changelog.gz"

size=$(du -sk --apparent-size "$root/usr" | cut -f1)
control "$(depends_of "$root/usr/bin/smtpscope")" "$size" >"$root/DEBIAN/control"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

find "$root" -exec touch -h -d "@$epoch" {} +
dpkg-deb --build --root-owner-group "$root" "$stage/$deb" >/dev/null
mv "$stage/$deb" "$out/$deb"
echo "$out/$deb ($(du -h "$out/$deb" | cut -f1)): $(sed -n 's/^Depends: //p' "$root/DEBIAN/control")"
