#!/usr/bin/env python3
"""Make Captures/lso-offload-windows.pcap from Captures/oversize-message.pcap.

What it models
--------------
A capture taken with Npcap (Wireshark, dumpcap) on a Windows mail client
whose network adapter has "Large Send Offload" (LSO, LSOv2) enabled. The
Windows TCP/IP stack then hands the adapter one large TCP packet for a
whole burst of data, and the adapter cuts it into MSS-sized segments on
the wire. Npcap sits above the adapter, so the capture shows the large
packet, not the segments. Such "super-frames" look like this:

  * one frame carries the payload of several wire segments (here 2 to
    19 segments, up to 19 x 1448 = 27512 bytes), with the IP and TCP
    headers of the first
    segment (sequence number, ACK, window, options, IPv4 ID); the adapter
    sets PSH (and FIN) on the last wire segment it makes, so the
    super-frame carries PSH when the burst ended with PSH;
  * the IPv4 Total Length field is 0: with LSOv2 the stack does not fill
    it in, the adapter takes the length from the buffer (Microsoft's NDIS
    documentation for LSOv2; microsoft/etl2pcapng pull request 27,
    "length is not filled in IPv4/6 headers" for LSO v2 packets; captures
    of Windows hosts with TTL 128 show "00 00" there, for example in
    appneta/tcpreplay issue 730);
  * the IPv4 header checksum is 0x0000 (left to the adapter), and the TCP
    checksum holds only the one's complement sum of the pseudo-header
    (source and destination address and protocol, without the TCP length),
    which is what the NDIS documentation says the TCP/IP transport writes
    before offloading a large packet;
  * the IPv4 ID of the super-frame is that of its first wire segment; the
    adapter counts up from it, so the next frame the host sends carries the
    ID the unmodified capture shows for it.

Which real capture it starts from
---------------------------------
Captures/plain-delivery.pcap (swaks -> Postfix) has no burst to coalesce:
its whole message goes in one 340-byte segment. The lab's other captures
with multi-segment messages are large-message-impaired.pcap (taken at the
server, across a link that drops, duplicates and reorders segments, so
not what the client host sees), snaplen-cut.pcap (every frame cut to 200
bytes) and oversize-message.pcap. This script uses oversize-message.pcap:
the lab's raw socket client (raw_client.py --script oversize) sending a
~178 KB message to Postfix 3.7.11, captured with tcpdump on the client's
interface with segmentation and checksum offload off, on an unimpaired
link. Postfix reads the message to its end and refuses it with 552. The
client's Linux TCP stack sent the message in bursts of up to 36 segments
of 1448 bytes between the server's ACKs.

How the rewrite is done
-----------------------
Client-to-server TCP segments that carry message-body data (after the
server's 354 reply), and that were sent back to back -- no frame from the
server in between, contiguous sequence numbers, the same ACK number,
window and TCP options (one LSO packet has one header template, so the
same TSval and TSecr too), and no PSH before the last of them (the adapter
puts PSH only on the last segment of a large packet, so a PSH in the
middle marks where one send ended) -- are joined into one super-frame,
as long as the group
has at least two segments (LSO's usual MinSegmentCount) and the IP
datagram would not pass 65535 bytes (LSOv1's MaxOffLoadSize limit; LSOv2
allows more, but this keeps every super-frame a valid-sized datagram).
The super-frame keeps the timestamp of the group's first segment.
Every other frame -- handshake, commands, server replies and ACKs, QUIT,
the close -- is copied byte for byte with its original pcap record header
(so those frames keep Linux's TTL 64 and complete checksums; only the
super-frames are changed). The pcap file header is copied too.

IPv4 Total Length is 0 in every super-frame. Research found no Windows
case in which the Total Length of an LSO packet holds the length of the
first MSS-sized segment only, so the script does not make one (LSOv1 puts
the real length of the large packet there; LSOv2 puts 0).

The script is deterministic: same input, same output bytes.

Usage (from the repository root; needs scapy, `pip install scapy` or
Debian's python3-scapy):

    python3 Captures/lab/make_lso_capture.py \
        [Captures/oversize-message.pcap] [Captures/lso-offload-windows.pcap]
"""
import struct
import sys

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

SRC = "Captures/oversize-message.pcap"
DST = "Captures/lso-offload-windows.pcap"

SMTP_PORT = 25
MIN_SEGMENTS = 2            # LSO MinSegmentCount
MAX_IP_DATAGRAM = 65535     # keep every super-frame a valid-sized datagram
LSO_TOTAL_LENGTH = 0        # what Npcap shows in LSOv2 super-frames
LSO_IP_CHECKSUM = 0x0000    # left for the adapter to fill in


def read_pcap(path):
    """Return (file header bytes, endian prefix, [(ts_sec, ts_frac, orig_len, frame)])."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        sys.exit(f"{path}: not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"{path}: link type {linktype}, expected Ethernet (1)")
    records = []
    off = 24
    while off < len(data):
        ts_sec, ts_frac, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        if incl != orig:
            sys.exit(f"{path}: record at offset {off} is cut short")
        records.append((ts_sec, ts_frac, orig, frame))
        off += 16 + incl
    return data[:24], endian, records


def pseudo_header_sum(src, dst, proto):
    """One's complement sum (folded, not complemented) of the pseudo-header without length."""
    words = []
    for addr in (src, dst):
        a = bytes(int(x) for x in addr.split("."))
        words += [(a[0] << 8) | a[1], (a[2] << 8) | a[3]]
    words.append(proto)
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def tcp_info(frame):
    pkt = Ether(frame)
    if IP not in pkt or TCP not in pkt:
        return None
    ip, tcp = pkt[IP], pkt[TCP]
    payload = bytes(tcp.payload)
    # Ethernet padding on short frames is not TCP payload.
    tcp_len = ip.len - ip.ihl * 4 - tcp.dataofs * 4
    payload = payload[:tcp_len]
    return pkt, ip, tcp, payload


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SRC
    dst = sys.argv[2] if len(sys.argv) > 2 else DST
    file_header, endian, records = read_pcap(src)

    infos = [tcp_info(r[3]) for r in records]

    # The client is the side that does not use port 25; the body starts at
    # the client's next sequence number when the server sends its 354.
    body_start = None
    for info in infos:
        if info is None:
            continue
        _, _, tcp, payload = info
        if tcp.sport == SMTP_PORT and payload.startswith(b"354"):
            body_start = tcp.ack
            break
    if body_start is None:
        sys.exit(f"{src}: no 354 reply found")

    def is_body_segment(info):
        if info is None:
            return False
        _, _, tcp, payload = info
        flags = int(tcp.flags)
        return (tcp.dport == SMTP_PORT and len(payload) > 0
                and not flags & 0x07          # no FIN, SYN, RST
                and not flags & 0x20          # no URG
                and (tcp.seq - body_start) % 2**32 < 2**31)

    def header_template(info):
        _, ip, tcp, _ = info
        return (ip.src, ip.dst, tcp.sport, tcp.dport, tcp.ack, tcp.window,
                bytes(tcp)[20:tcp.dataofs * 4])   # TCP options as bytes

    # Group consecutive body segments.
    groups = []          # list of lists of record indexes
    current = []
    for i, info in enumerate(infos):
        if is_body_segment(info):
            if current:
                last = infos[current[-1]]
                contiguous = (last[2].seq + len(last[3])) % 2**32 == info[2].seq
                same_header = header_template(last) == header_template(info)
                first = infos[current[0]]
                ip_hlen = first[1].ihl * 4 + first[2].dataofs * 4
                size = ip_hlen + sum(len(infos[j][3]) for j in current) + len(info[3])
                if contiguous and same_header and size <= MAX_IP_DATAGRAM:
                    current.append(i)
                else:
                    groups.append(current)
                    current = [i]
            else:
                current = [i]
            if int(info[2].flags) & 0x08:    # PSH ends a send: the next one is a new LSO packet
                groups.append(current)
                current = []
        else:
            if current:
                groups.append(current)
            current = []
    if current:
        groups.append(current)
    groups = [g for g in groups if len(g) >= MIN_SEGMENTS]

    merged = {}          # first index -> (group, frame bytes)
    skip = set()
    for g in groups:
        first_pkt, first_ip, first_tcp, _ = infos[g[0]]
        payload = b"".join(infos[j][3] for j in g)
        last_flags = int(infos[g[-1]][2].flags)
        flags = (int(first_tcp.flags) & ~0x08) | (last_flags & 0x08)   # PSH from the last
        pkt = first_pkt.copy()
        pkt[TCP].remove_payload()
        pkt[TCP].add_payload(Raw(payload))
        pkt[TCP].flags = flags
        pkt[TCP].chksum = pseudo_header_sum(first_ip.src, first_ip.dst, 6)
        pkt[IP].len = LSO_TOTAL_LENGTH
        pkt[IP].chksum = LSO_IP_CHECKSUM
        frame = bytes(pkt)
        expected = 14 + first_ip.ihl * 4 + first_tcp.dataofs * 4 + len(payload)
        assert len(frame) == expected, (len(frame), expected)
        merged[g[0]] = (g, frame)
        skip.update(g[1:])

    out = bytearray(file_header)
    report = []
    new_no = 0
    for i, (ts_sec, ts_frac, orig, frame) in enumerate(records):
        if i in skip:
            continue
        new_no += 1
        if i in merged:
            g, frame = merged[i]
            report.append((new_no, [j + 1 for j in g], [len(infos[j][3]) for j in g], len(frame)))
        out += struct.pack(endian + "IIII", ts_sec, ts_frac, len(frame), len(frame))
        out += frame
    with open(dst, "wb") as f:
        f.write(out)

    print(f"{src}: {len(records)} frames -> {dst}: {new_no} frames, "
          f"{len(report)} super-frames (IPv4 Total Length {LSO_TOTAL_LENGTH})")
    for new, old, lens, flen in report:
        print(f"  frame {new}: from frames {old[0]}-{old[-1]} ({len(old)} segments), "
              f"TCP payload {sum(lens)} bytes, frame {flen} bytes")


if __name__ == "__main__":
    main()
