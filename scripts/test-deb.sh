#!/usr/bin/env bash
# Tests smtpscope's Debian package as a user would: installs it with apt-get into a fresh Debian
# root that has no Swift toolchain (debootstrap minbase), then reads a capture there and captures
# live on the loopback interface of a network namespace of its own (traffic stays on this
# machine). Lintian checks the package too, when it can be installed.
#
# usage: sudo scripts/test-deb.sh [DEB]    (default: the newest smtpscope_*.deb in the current directory)
#
# The base root is made once and kept as a tarball (BASE_TARBALL, default
# /var/cache/smtpscope-test/debian-SUITE-minbase.tar.gz); each run unpacks a fresh copy. SUITE
# (default bookworm) and MIRROR (default http://deb.debian.org/debian) choose what debootstrap
# fetches; KEEP_ROOT=1 keeps the run's root. Needs root, debootstrap, unshare, iproute2, python3
# (the SMTP client and server of the live test, standard library only) and network access to the
# mirror (apt-get fetches libpcap0.8).
# Prints each check; exits 0 when all pass, 1 when one fails, 2 when the test cannot run.
set -uo pipefail
export LC_ALL=C

repo=$(cd "$(dirname "$0")/.." && pwd)
deb=${1:-$(ls -t smtpscope_*.deb 2>/dev/null | head -1)}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
tarball=${BASE_TARBALL:-/var/cache/smtpscope-test/debian-$suite-minbase.tar.gz}
capture=plain-delivery            # Captures/NAME.pcap, compared with Tests/Golden/NAME.txt and .jsonl

checks=0
ok()    { checks=$((checks + 1)); printf 'ok    %s\n' "$*"; }
fail()  { printf 'FAIL  %s\n' "$*" >&2; exit 1; }
cannot() { printf 'cannot test: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || cannot "needs root (debootstrap, chroot, network namespaces)"
[ -n "$deb" ] && [ -f "$deb" ] || cannot "no package given and no smtpscope_*.deb here (scripts/package-deb.sh makes one)"
deb=$(readlink -f "$deb")
for tool in unshare ip python3 dpkg-deb; do command -v $tool >/dev/null || cannot "$tool is missing"; done
version=$(dpkg-deb --field "$deb" Version)

# The base root: debootstrap once (as ../shared/tools/fresh-machine.sh makes one, but minbase
# alone: nothing of a Swift toolchain or a compiler), then kept as a tarball.
if [ ! -f "$tarball" ]; then
  command -v debootstrap >/dev/null || { apt-get install -y -q debootstrap >/dev/null 2>&1 || cannot "debootstrap is missing"; }
  mkdir -p "$(dirname "$tarball")"
  base=$(mktemp -d /var/tmp/smtpscope-base.XXXXXX)
  chmod 755 "$base"   # the root's /: apt's _apt user must get through it
  echo "making the base root ($suite minbase from $mirror) …"
  debootstrap --variant=minbase "$suite" "$base" "$mirror" >"$base.log" 2>&1 || { tail -5 "$base.log" >&2; rm -rf "$base"; cannot "debootstrap failed (log: $base.log)"; }
  tar -C "$base" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$base" "$base.log"
fi

work=$(mktemp -d /var/tmp/smtpscope-deb-test.XXXXXX)
r=$work/root
server_pid=""
cleanup() {
  local rc=$?
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  for m in sys dev proc; do umount -R "$r/$m" 2>/dev/null || umount -l "$r/$m" 2>/dev/null; done
  # Only delete the root once nothing is mounted in it (a bound /dev would be emptied).
  if grep -q " $work/" /proc/mounts; then
    echo "left $work in place: something is still mounted in it" >&2
  elif [ "${KEEP_ROOT:-0}" = 1 ] || [ $rc -ne 0 ]; then
    echo "the root and logs are in $work"
  else
    rm -rf "$work"
  fi
  if [ $rc -eq 0 ]; then echo "PASS ($checks checks)"; else echo "test-deb: FAILED" >&2; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$r"
tar -C "$r" -xzf "$tarball" || cannot "cannot unpack $tarball"
chmod 755 "$r"
in_root() { chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

# A machine without Swift: no toolchain, no Swift runtime library anywhere in the root.
in_root sh -c 'command -v swift swiftc' >/dev/null && fail "the root has a Swift toolchain"
[ -z "$(find "$r" -name 'libswiftCore*' -print -quit)" ] || fail "the root has the Swift runtime"
ok "fresh $suite root without a Swift toolchain or runtime ($(in_root dpkg-query -W -f '.\n' | wc -l) packages)"

mkdir -p "$r/proc" "$r/dev" "$r/sys"
mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev" \
  && mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys" || cannot "cannot mount /proc, /dev, /sys in the root"
cp /etc/resolv.conf "$r/etc/resolv.conf"
cp "$deb" "$r/tmp/"

# Install as the README says: apt-get fetches what the package depends on.
in_root apt-get update -q >"$work/apt-update.log" 2>&1 || { tail -5 "$work/apt-update.log" >&2; cannot "apt-get update failed in the root (network?)"; }
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >"$work/apt-install.log" 2>&1 \
  || { tail -20 "$work/apt-install.log" >&2; fail "apt-get install ./$(basename "$deb") failed"; }
pulled=$(sed -n 's/^Setting up \([^: ]*\).*/\1/p' "$work/apt-install.log" | grep -v '^smtpscope$' | paste -sd' ')
ok "apt-get install ./$(basename "$deb") (with it: ${pulled:-nothing})"

[ "$(in_root dpkg-query -W -f '${Status} ${Version}' smtpscope)" = "install ok installed $version" ] || fail "dpkg does not list smtpscope $version as installed"
said=$(in_root smtpscope --version 2>&1) || fail "smtpscope --version does not run: $said"
[ "$said" = "$version" ] || fail "smtpscope --version says '$said', the package is $version"
ok "smtpscope --version: $said"

missing=$(in_root ldd /usr/bin/smtpscope | grep 'not found')
[ -z "$missing" ] || fail "libraries missing: $missing"
ok "every library found: $(in_root ldd /usr/bin/smtpscope | awk '$2 == "=>" {print $1}' | grep -v '^linux-vdso' | paste -sd' ')"

# Reading a capture gives the output the tests hold as golden: text (also gzip-compressed, which
# needs zlib) and JSON.
mkdir -p "$r/root/Captures"
cp "$repo/Captures/$capture.pcap" "$r/root/Captures/"
gzip -c "$repo/Captures/$capture.pcap" >"$r/root/Captures/$capture.pcap.gz"
in_root sh -c "cd /root && NO_COLOR=1 smtpscope read Captures/$capture.pcap" >"$work/read.txt" 2>"$work/read.err" || fail "smtpscope read exited $? ($(head -1 "$work/read.err"))"
cmp -s "$work/read.txt" "$repo/Tests/Golden/$capture.txt" || { diff "$repo/Tests/Golden/$capture.txt" "$work/read.txt" | head >&2; fail "smtpscope read Captures/$capture.pcap differs from Tests/Golden/$capture.txt"; }
ok "smtpscope read Captures/$capture.pcap: the timeline of Tests/Golden/$capture.txt ($(grep -c '' "$work/read.txt") lines, $(grep -o 'queued as [A-Z0-9]*' "$work/read.txt" | head -1))"
in_root sh -c "cd /root && NO_COLOR=1 smtpscope read Captures/$capture.pcap.gz" >"$work/read-gz.txt" 2>&1 || fail "smtpscope read Captures/$capture.pcap.gz exited $?"
cmp -s "$work/read-gz.txt" "$repo/Tests/Golden/$capture.txt" || fail "smtpscope read Captures/$capture.pcap.gz differs from Tests/Golden/$capture.txt"
ok "smtpscope read Captures/$capture.pcap.gz (gzip, through zlib): the same timeline"
in_root sh -c "cd /root && smtpscope read --format json Captures/$capture.pcap" >"$work/read.jsonl" 2>&1 || fail "smtpscope read --format json exited $?"
cmp -s "$work/read.jsonl" "$repo/Tests/Golden/$capture.jsonl" || fail "smtpscope read --format json Captures/$capture.pcap differs from Tests/Golden/$capture.jsonl"
ok "smtpscope read --format json Captures/$capture.pcap: the records of Tests/Golden/$capture.jsonl"

# What the package puts beside the binary.
in_root sh -c 'zcat /usr/share/man/man1/smtpscope.1.gz | grep -q "^\.Dt SMTPSCOPE 1"' || fail "no man page"
in_root bash -c '. /usr/share/bash-completion/completions/smtpscope && complete -p smtpscope' >/dev/null || fail "the bash completion does not load"
[ -s "$r/usr/share/zsh/vendor-completions/_smtpscope" ] && [ -s "$r/usr/share/fish/vendor_completions.d/smtpscope.fish" ] || fail "no zsh or fish completion"
[ -s "$r/usr/share/doc/smtpscope/copyright" ] || fail "no copyright file"
ok "man page, bash completion (loads), zsh and fish completions, copyright"

# Live capture: lo of a network namespace of its own, an SMTP server and client (python3 of this
# machine, in the same namespace) while smtpscope runs in the root; SIGINT after 3 s.
cat >"$work/smtp.py" <<'EOF'
import socket, smtplib, sys, threading
replies = {b"EHLO": b"250-mx.example.org\r\n250 PIPELINING\r\n", b"MAIL": b"250 2.1.0 Ok\r\n",
           b"RCPT": b"250 2.1.5 Ok\r\n", b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
           b"QUIT": b"221 2.0.0 Bye\r\n"}
def serve(listener):
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"220 mx.example.org ESMTP\r\n")
    in_data = False
    for line in f:
        if in_data:
            if line == b".\r\n":
                in_data = False
                conn.sendall(b"250 2.0.0 Ok: queued as 4DEB7E57A1\r\n")
            continue
        verb = line[:4].upper()
        conn.sendall(replies.get(verb, b"502 5.5.2 Error\r\n"))
        if verb == b"DATA": in_data = True
        if verb == b"QUIT": break
    conn.close()
listener = socket.create_server(("127.0.0.1", 25))
t = threading.Thread(target=serve, args=(listener,)); t.start()
with smtplib.SMTP("127.0.0.1", 25, local_hostname="ws01.example.net") as s:
    s.sendmail("alice@example.net", ["bob@example.org"], "Subject: installed\r\n\r\nhello\r\n")
t.join()
print("sent")
EOF
unshare --net bash -c '
  ip link set lo up || exit 3
  (sleep 1; python3 "$1/smtp.py" >"$1/client.log" 2>&1) &
  chroot "$2" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NO_COLOR=1 \
    timeout --preserve-status -k 5 -s INT 3 smtpscope live -i lo >"$1/live.txt" 2>"$1/live.err"
  echo $? >"$1/live.rc"
  wait
' _ "$work" "$r"
rc=$(cat "$work/live.rc" 2>/dev/null || echo none)
grep -q '^sent$' "$work/client.log" || fail "the SMTP client on lo did not finish: $(tail -2 "$work/client.log")"
[ "$rc" = 0 ] || fail "smtpscope live -i lo exited $rc on SIGINT, not 0 ($(head -2 "$work/live.err"))"
grep -q 'queued as 4DEB7E57A1' "$work/live.txt" || { cat "$work/live.txt" >&2; fail "smtpscope live did not print the transaction sent on lo"; }
grep -q 'packets received, 0 dropped by the kernel' "$work/live.err" || fail "no libpcap counters on stderr after SIGINT: $(cat "$work/live.err")"
ok "smtpscope live -i lo (own network namespace): printed the transaction (queued as 4DEB7E57A1), exit 0 on SIGINT, $(grep -o '[0-9]* packets received' "$work/live.err")"

in_root dpkg --purge smtpscope >"$work/purge.log" 2>&1 || fail "dpkg --purge smtpscope failed"
[ ! -e "$r/usr/bin/smtpscope" ] && [ ! -e "$r/usr/share/doc/smtpscope" ] || fail "files left after dpkg --purge"
ok "dpkg --purge smtpscope removes it"

# Lintian, when it can be installed (on this machine, not in the root).
if command -v lintian >/dev/null || apt-get install -y -q lintian >/dev/null 2>&1; then
  tags=$(lintian --pedantic "$deb" 2>&1 | grep -v 'running with root privileges')
  [ -z "$tags" ] || printf '      %s\n' "$tags"
  if grep -q '^E:' <<<"$tags"; then fail "lintian reports errors"; fi
  ok "lintian --pedantic: $( [ -z "$tags" ] && echo "no tags" || echo "$(grep -c '' <<<"$tags") tags, no errors")"
else
  echo "skip  lintian (cannot be installed)"
fi
