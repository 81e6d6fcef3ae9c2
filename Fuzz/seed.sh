#!/usr/bin/env bash
# Regenerates the seed corpora in Fuzz/corpus/<target>/ from capture files:
#   Captures/*.pcap[ng], Tests/Fixtures/packets/*.pcap[ng] and ../shared/peer-captures/**.pcap.
#   packets     raw frames (Fuzz/tools/seeds.py reads pcap/pcapng itself)
#   reassembly  real TCP segments re-encoded in the target's segment format
#   smtp        TCP payload streams from `tshark -q -z follow,tcp,raw,N` (first 3 streams a file)
#   tls         the TLS part of those streams (port 465, or after STARTTLS), and the RFC 8448 trace
#               of the TLS tests (Tests/TLSTests/RFC8448.swift), with and without the target's key log
# Seeds stay small (a few frames / 8 KiB of dialogue each); the total is checked below 2 MB.
# The fuzzers' working corpora live in /var/tmp/smtpscope-fuzz/, not here.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/corpus"
py="${PYTHON:-python3}"

mapfile -t captures < <(
    { ls "$root"/Captures/*.pcap "$root"/Captures/*.pcapng "$root"/Tests/Fixtures/packets/*.pcap "$root"/Tests/Fixtures/packets/*.pcapng 2>/dev/null
      [ -d "$root/../shared/peer-captures" ] && find "$root/../shared/peer-captures" -name '*.pcap' -o -name '*.pcapng' | sort
    } || true)
[ ${#captures[@]} -gt 0 ] || { echo "seed.sh: no capture files found" >&2; exit 1; }

rm -rf "$out/packets" "$out/reassembly" "$out/smtp" "$out/tls"
mkdir -p "$out/packets" "$out/reassembly" "$out/smtp" "$out/tls"
"$py" "$here/tools/seeds.py" "$out" "${captures[@]}"
"$py" "$here/tools/seeds.py" --rfc8448 "$out" "$root/Tests/TLSTests/RFC8448.swift"

if command -v tshark > /dev/null; then
    for cap in "${captures[@]}"; do
        name="$(basename "$(dirname "$cap")")_$(basename "${cap%.*}")"
        streams=$(tshark -r "$cap" -T fields -e tcp.stream -Y 'tcp.len > 0' 2>/dev/null | sort -n -u | head -3) || continue
        for s in $streams; do
            follow=$(tshark -r "$cap" -q -z "follow,tcp,raw,$s" 2>/dev/null) || continue
            "$py" "$here/tools/seeds.py" --smtp "$out" "$name-$s" <<< "$follow"
            "$py" "$here/tools/seeds.py" --tls "$out" "$name-$s" <<< "$follow"
        done
    done
else
    echo "seed.sh: tshark not found: no smtp seeds from captures (apt-get install tshark)" >&2
fi

total=$(du -sb "$out" | cut -f1)
for t in packets reassembly smtp tls; do
    echo "seed.sh: $t: $(find "$out/$t" -type f | wc -l) seeds, $(du -sh "$out/$t" | cut -f1)"
done
echo "seed.sh: total $total bytes"
if [ "$total" -ge $((2 * 1024 * 1024)) ]; then
    echo "seed.sh: seeds exceed 2 MB: lower the per-file counts in Fuzz/tools/seeds.py" >&2
    exit 1
fi
