#!/usr/bin/env python3
"""Derive fixture variants from the live base captures (standard library only).

usage: derive.py DIR FACTS_JSON

Reads DIR/ethernet.pcap (IPv4 SMTP exchange over Ethernet) and DIR/ipv6.pcap
(IPv6 SMTP exchange over Ethernet) and writes the rewritten variants next to
them. FACTS_JSON receives what the rewrites did (for manifest.json).
Every rewrite is deterministic: same inputs, same output bytes.
"""
import json
import os
import struct
import sys

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_USER0 = 147
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8

AF_INET = 2
AF_INET6_NULL = 30  # value written in null.pcap (Darwin/macOS AF_INET6)
AF_INET6_LOOP = 24  # value written in loop.pcap (OpenBSD AF_INET6)

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D


# --------------------------------------------------------------------------
# classic pcap I/O

class Capture:
    def __init__(self, linktype, snaplen, nsec, records, version=(2, 4)):
        self.linktype = linktype
        self.snaplen = snaplen
        self.nsec = nsec
        self.records = records  # list of [ts_sec, ts_frac, orig_len, data]
        self.version = version


def read_pcap(path):
    with open(path, "rb") as f:
        buf = f.read()
    (magic,) = struct.unpack_from("<I", buf, 0)
    if magic in (MAGIC_USEC, MAGIC_NSEC):
        e = "<"
    else:
        (magic,) = struct.unpack_from(">I", buf, 0)
        if magic not in (MAGIC_USEC, MAGIC_NSEC):
            raise SystemExit(f"{path}: not a classic pcap file")
        e = ">"
    vmaj, vmin, _tz, _sig, snaplen, linktype = struct.unpack_from(e + "HHiIII", buf, 4)
    records = []
    off = 24
    while off + 16 <= len(buf):
        ts_sec, ts_frac, caplen, origlen = struct.unpack_from(e + "IIII", buf, off)
        off += 16
        data = buf[off:off + caplen]
        if len(data) != caplen:
            raise SystemExit(f"{path}: truncated record")
        off += caplen
        records.append([ts_sec, ts_frac, origlen, data])
    return Capture(linktype & 0x0FFFFFFF, snaplen, magic == MAGIC_NSEC, records, (vmaj, vmin))


def pcap_bytes(cap, big_endian=False):
    e = ">" if big_endian else "<"
    magic = MAGIC_NSEC if cap.nsec else MAGIC_USEC
    out = [struct.pack(e + "IHHiIII", magic, cap.version[0], cap.version[1], 0, 0,
                       cap.snaplen, cap.linktype)]
    for ts_sec, ts_frac, origlen, data in cap.records:
        out.append(struct.pack(e + "IIII", ts_sec, ts_frac, len(data), origlen))
        out.append(bytes(data))
    return b"".join(out)


def write_pcap(path, cap, big_endian=False):
    with open(path, "wb") as f:
        f.write(pcap_bytes(cap, big_endian))


def with_records(cap, records, linktype=None):
    return Capture(cap.linktype if linktype is None else linktype, cap.snaplen,
                   cap.nsec, records, cap.version)


# --------------------------------------------------------------------------
# helpers

def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4_fix_checksum(hdr):
    hdr = bytearray(hdr)
    hdr[10:12] = b"\0\0"
    hdr[10:12] = struct.pack("!H", inet_checksum(bytes(hdr)))
    return bytes(hdr)


def eth_split(frame):
    """(dst+src macs, ethertype, l3 bytes trimmed to the IP length)."""
    (etype,) = struct.unpack_from("!H", frame, 12)
    l3 = frame[14:]
    if etype == ETH_IPV4:
        (total,) = struct.unpack_from("!H", l3, 2)
        l3 = l3[:total]
    elif etype == ETH_IPV6:
        (plen,) = struct.unpack_from("!H", l3, 4)
        l3 = l3[:40 + plen]
    else:
        raise SystemExit(f"unexpected ethertype 0x{etype:04x} in base capture")
    return frame[:12], etype, l3


def tcp_payload_len_v4(l3):
    ihl = (l3[0] & 0x0F) * 4
    (total,) = struct.unpack_from("!H", l3, 2)
    doff = (l3[ihl + 12] >> 4) * 4
    return total - ihl - doff


def merged(*caps):
    recs = [r for c in caps for r in c.records]
    recs.sort(key=lambda r: (r[0], r[1]))  # stable: ties keep file order
    return recs


# --------------------------------------------------------------------------
# variants

def to_l3(cap, family_header):
    """Replace the 14-byte Ethernet header by family_header(ethertype)."""
    out = []
    for ts, frac, _orig, data in cap.records:
        _macs, etype, l3 = eth_split(data)
        new = family_header(etype) + l3
        out.append([ts, frac, len(new), new])
    return out


def null_header(etype):  # host order of the file writer: little-endian here
    return struct.pack("<I", AF_INET if etype == ETH_IPV4 else AF_INET6_NULL)


def loop_header(etype):  # always network byte order
    return struct.pack(">I", AF_INET if etype == ETH_IPV4 else AF_INET6_LOOP)


def raw_header(_etype):
    return b""


VLAN_ID = 100
VLAN_PCP_SERVER = 5
QINQ_OUTER_ID = 200
QINQ_INNER_ID = 300


def add_tags(cap, server_ip4, tags_for):
    """Insert 802.1Q/802.1ad tags after the MAC addresses.

    tags_for(from_server) -> list of (tpid, tci), outermost first."""
    out = []
    for ts, frac, orig, data in cap.records:
        macs, etype, l3 = eth_split(data)
        src = bytes(l3[12:16])
        from_server = src == server_ip4
        tags = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags_for(from_server))
        new = macs + tags + struct.pack("!H", etype) + l3
        out.append([ts, frac, len(new), new])
    return out


# IPv4 options.
# client->server: NOP + Record Route with 2 slots already filled (IHL 8)
RR_FILLED = bytes([1, 7, 11, 12]) + bytes([192, 0, 2, 254]) + bytes([198, 51, 100, 254])
# server->client: Record Route with 9 empty slots + EOL (IHL 15, the maximum)
RR_EMPTY = bytes([7, 39, 4]) + bytes(36) + bytes([0])
assert len(RR_FILLED) == 12 and len(RR_EMPTY) == 40


def add_ipv4_options(cap, server_ip4):
    out = []
    for ts, frac, orig, data in cap.records:
        macs, etype, l3 = eth_split(data)
        assert etype == ETH_IPV4 and (l3[0] & 0x0F) == 5
        opts = RR_EMPTY if bytes(l3[12:16]) == server_ip4 else RR_FILLED
        hdr = bytearray(l3[:20] + opts)
        hdr[0] = 0x40 | (len(hdr) // 4)
        struct.pack_into("!H", hdr, 2, len(hdr) + len(l3) - 20)
        new = macs + struct.pack("!H", etype) + ipv4_fix_checksum(hdr) + l3[20:]
        out.append([ts, frac, len(new), new])
    return out


# IPv6 extension headers: Hop-by-Hop (8 bytes, PadN) then Destination
# Options (16 bytes: experimental option 0x1e "skip if unknown" + PadN).
HBH = bytes([60, 0, 1, 4, 0, 0, 0, 0])
DSTOPT = bytes([6, 1, 0x1E, 4, 0xDE, 0xAD, 0xBE, 0xEF, 1, 6, 0, 0, 0, 0, 0, 0])
assert len(HBH) == 8 and len(DSTOPT) == 16


def add_ipv6_ext(cap):
    out = []
    for ts, frac, orig, data in cap.records:
        macs, etype, l3 = eth_split(data)
        assert etype == ETH_IPV6 and l3[6] == 6
        hdr = bytearray(l3[:40])
        hdr[6] = 0  # next header: Hop-by-Hop
        (plen,) = struct.unpack_from("!H", hdr, 4)
        struct.pack_into("!H", hdr, 4, plen + len(HBH) + len(DSTOPT))
        new = macs + struct.pack("!H", etype) + bytes(hdr) + HBH + DSTOPT + l3[40:]
        out.append([ts, frac, len(new), new])
    return out


def fragment_v4(frame, nfrags):
    """Split one Ethernet/IPv4 frame into nfrags IPv4 fragments (in order)."""
    macs, etype, l3 = eth_split(frame)
    ihl = (l3[0] & 0x0F) * 4
    payload = l3[ihl:]
    plen = len(payload)
    chunk = ((plen + nfrags - 1) // nfrags + 7) // 8 * 8
    assert chunk * (nfrags - 1) < plen, "payload too short to split"
    (ip_id,) = struct.unpack_from("!H", l3, 4)
    if ip_id == 0:
        ip_id = 0x4242
    frags = []
    for i in range(nfrags):
        part = payload[i * chunk:(i + 1) * chunk] if i < nfrags - 1 else payload[i * chunk:]
        offset8 = i * chunk // 8
        more = i < nfrags - 1
        hdr = bytearray(l3[:ihl])
        struct.pack_into("!H", hdr, 2, ihl + len(part))
        struct.pack_into("!H", hdr, 4, ip_id)
        struct.pack_into("!H", hdr, 6, (0x2000 if more else 0) | offset8)  # DF cleared
        new = macs + struct.pack("!H", etype) + ipv4_fix_checksum(hdr) + part
        frags.append({"frame": new, "offset_bytes": offset8 * 8, "offset_units": offset8,
                      "mf": more, "len": len(part)})
    info = {"ip_id": ip_id, "ip_payload_length": plen,
            "tcp_payload_length": tcp_payload_len_v4(l3)}
    return frags, info


def fragment_capture(cap, server_ip4):
    """Fragment the biggest client->server segment (fragments in order) and
    the biggest server->client segment (fragments out of order 3,1,2)."""
    best = {True: None, False: None}
    for idx, (_ts, _frac, _orig, data) in enumerate(cap.records):
        _macs, _et, l3 = eth_split(data)
        from_server = bytes(l3[12:16]) == server_ip4
        n = tcp_payload_len_v4(l3)
        if best[from_server] is None or n > best[from_server][1]:
            best[from_server] = (idx, n)
    plan = {best[False][0]: ("client_to_server", [0, 1, 2]),
            best[True][0]: ("server_to_client", [2, 0, 1])}
    out, sets = [], []
    for idx, (ts, frac, orig, data) in enumerate(cap.records):
        if idx not in plan:
            out.append([ts, frac, orig, data])
            continue
        direction, order = plan[idx]
        frags, info = fragment_v4(data, 3)
        first_frame = len(out) + 1
        for k in order:  # same timestamp keeps the file's time order monotonic
            out.append([ts, frac, len(frags[k]["frame"]), frags[k]["frame"]])
        info.update({
            "direction": direction,
            "original_frame": idx + 1,
            "frames": list(range(first_frame, first_frame + 3)),
            "delivery_order": "in order" if order == [0, 1, 2] else "out of order",
            "fragments_as_stored": [
                {"frame": first_frame + i, "offset_bytes": frags[k]["offset_bytes"],
                 "offset_8byte_units": frags[k]["offset_units"], "more_fragments": frags[k]["mf"],
                 "length": frags[k]["len"]}
                for i, k in enumerate(order)],
        })
        sets.append(info)
    sets.sort(key=lambda s: s["frames"][0])
    return out, sets


# --------------------------------------------------------------------------

def main():
    d, facts_path = sys.argv[1], sys.argv[2]
    eth = read_pcap(os.path.join(d, "ethernet.pcap"))
    v6 = read_pcap(os.path.join(d, "ipv6.pcap"))
    assert eth.linktype == LINKTYPE_ETHERNET and v6.linktype == LINKTYPE_ETHERNET
    # the server is the destination of the first packet (the client's SYN)
    server_ip4 = bytes(eth_split(eth.records[0][3])[2][16:20])
    facts = {}

    both = with_records(eth, merged(eth, v6))
    write_pcap(os.path.join(d, "null.pcap"),
               with_records(both, to_l3(both, null_header), LINKTYPE_NULL))
    facts["null.pcap"] = {"family_header": "4 bytes, little-endian (file byte order)",
                          "af_inet": AF_INET, "af_inet6": AF_INET6_NULL}
    write_pcap(os.path.join(d, "loop.pcap"),
               with_records(both, to_l3(both, loop_header), LINKTYPE_LOOP))
    facts["loop.pcap"] = {"family_header": "4 bytes, big-endian (network order)",
                          "af_inet": AF_INET, "af_inet6": AF_INET6_LOOP}
    write_pcap(os.path.join(d, "raw.pcap"),
               with_records(both, to_l3(both, raw_header), LINKTYPE_RAW))
    write_pcap(os.path.join(d, "raw-ipv4.pcap"),
               with_records(eth, to_l3(eth, raw_header), LINKTYPE_IPV4))
    write_pcap(os.path.join(d, "raw-ipv6.pcap"),
               with_records(v6, to_l3(v6, raw_header), LINKTYPE_IPV6))
    # LINKTYPE_RAW copy of the IPv6 exchange, only an input for mixed-linktypes.pcapng
    write_pcap(os.path.join(os.path.dirname(facts_path), "raw101-ipv6.pcap"),
               with_records(v6, to_l3(v6, raw_header), LINKTYPE_RAW))

    def vlan_tags(from_server):
        return [(ETH_VLAN, ((VLAN_PCP_SERVER if from_server else 0) << 13) | VLAN_ID)]

    write_pcap(os.path.join(d, "vlan.pcap"), with_records(eth, add_tags(eth, server_ip4, vlan_tags)))
    facts["vlan.pcap"] = {"tags": [{"tpid": "0x8100", "vlan_id": VLAN_ID}],
                          "pcp": {"client_to_server": 0, "server_to_client": VLAN_PCP_SERVER}}

    def qinq_tags(_from_server):
        return [(ETH_QINQ, QINQ_OUTER_ID), (ETH_VLAN, QINQ_INNER_ID)]

    write_pcap(os.path.join(d, "qinq.pcap"), with_records(eth, add_tags(eth, server_ip4, qinq_tags)))
    facts["qinq.pcap"] = {"tags": [{"tpid": "0x88a8", "vlan_id": QINQ_OUTER_ID},
                                   {"tpid": "0x8100", "vlan_id": QINQ_INNER_ID}]}

    write_pcap(os.path.join(d, "ipv4-options.pcap"), with_records(eth, add_ipv4_options(eth, server_ip4)))
    facts["ipv4-options.pcap"] = {
        "client_to_server": {"ihl_words": 8, "header_bytes": 32,
                             "options": "NOP, Record Route len 11 ptr 12 (192.0.2.254, 198.51.100.254)"},
        "server_to_client": {"ihl_words": 15, "header_bytes": 60,
                             "options": "Record Route len 39 ptr 4 (9 empty slots), EOL"},
        "checksums": "IPv4 header checksums recomputed; TCP checksums unchanged and still valid"}

    write_pcap(os.path.join(d, "ipv6-ext.pcap"), with_records(v6, add_ipv6_ext(v6)))
    facts["ipv6-ext.pcap"] = {
        "extension_chain": ["hop-by-hop options (8 bytes: PadN)",
                            "destination options (16 bytes: option 0x1e len 4, PadN)", "tcp"],
        "extension_bytes": len(HBH) + len(DSTOPT),
        "checksums": "TCP checksum bytes not modified; they remain valid because the "
                     "pseudo-header (addresses, upper-layer length, next header 6) is unchanged"}

    recs, sets = fragment_capture(eth, server_ip4)
    write_pcap(os.path.join(d, "ipv4-frag.pcap"), with_records(eth, recs))
    facts["ipv4-frag.pcap"] = {"fragment_sets": sets,
                               "checksums": "IPv4 header checksums recomputed; DF cleared; "
                                            "TCP checksum of the reassembled segment valid"}

    write_pcap(os.path.join(d, "ethernet-be.pcap"), eth, big_endian=True)
    facts["ethernet-be.pcap"] = {"byte_order": "big-endian", "magic_bytes": "a1b2c3d4"}

    unsup = Capture(LINKTYPE_USER0, eth.snaplen, eth.nsec, eth.records, eth.version)
    write_pcap(os.path.join(d, "unsupported-linktype.pcap"), unsup)
    facts["unsupported-linktype.pcap"] = {"note": "ethernet.pcap with the header link type set to 147 (USER0)"}

    # cut inside the 7th record: 6 complete records, then the 7th record
    # header and the first 10 bytes of its packet data
    full = pcap_bytes(eth)
    keep_records = 6
    off = 24
    for ts, frac, orig, data in eth.records[:keep_records]:
        off += 16 + len(data)
    cut_at = off + 16 + 10
    with open(os.path.join(d, "cut-short.pcap"), "wb") as f:
        f.write(full[:cut_at])
    facts["cut-short.pcap"] = {
        "note": "first %d bytes of ethernet.pcap" % cut_at,
        "complete_records": keep_records,
        "truncated_record": {"index": keep_records + 1, "caplen_in_header": len(eth.records[keep_records][3]),
                             "data_bytes_present": 10}}

    open(os.path.join(d, "empty.pcap"), "wb").close()
    with open(os.path.join(d, "not-a-capture.txt"), "w") as f:
        f.write("This is a plain text file, not a packet capture.\n"
                "220 mx.example.net ESMTP\n"
                "EHLO client.example.org\n")

    with open(facts_path, "w") as f:
        json.dump(facts, f, indent=2)


if __name__ == "__main__":
    main()
