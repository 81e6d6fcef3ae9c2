#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from capture files (standard library only).

  seeds.py OUTDIR CAPTURE...        writes OUTDIR/packets/ and OUTDIR/reassembly/ seeds
  seeds.py --smtp OUTDIR NAME < follow.txt
                                    turns `tshark -q -z follow,tcp,raw,N` output into a smtp seed
  seeds.py --tls OUTDIR NAME < follow.txt
                                    the same stream's TLS part (each direction from its first
                                    handshake record on) as a tls seed, when it has one
  seeds.py --rfc8448 OUTDIR RFC8448.swift
                                    tls seeds from the RFC 8448 trace in the TLS tests (with and
                                    without the target's key log, whole and in pieces)

Formats are those the targets read (see Fuzz/Targets/*.swift and FUZZING.md).
"""
import hashlib
import os
import re
import struct
import sys

# Link type byte of the `packets` target: index into [EN10MB, SLL, SLL2, NULL, LOOP, RAW].
DLT_INDEX = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 12: 5, 14: 5, 101: 5, 228: 5, 229: 5}

MAX_FRAME = 2048          # longer frames are cut (the control nibble marks them as snaplen-cut)
FRAMES_PER_SEED = 8
SEEDS_PER_FILE = 4
SEGMENTS_PER_SEED = 48


def read_pcap(data):
    """Yields (linktype, frame bytes) for a pcap or pcapng file."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)
        return
    else:
        return
    if len(data) < 24:
        return
    linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        yield linktype, data[off:off + incl]
        off += incl


def read_pcapng(data):
    off = 0
    e = "<"
    links = []
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            links = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        if blen < 12:
            return
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            links.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6 and len(body) >= 20:
            iface, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            if iface < len(links):
                yield links[iface], body[20:20 + caplen]
        elif btype == 3 and links and len(body) >= 4:
            yield links[0], body[4:]
        off += blen


def ip_payload(linktype, frame):
    """Returns the IP packet in a frame, or None."""
    if linktype == 1:
        off, etype = 12, None
        while off + 2 <= len(frame):
            etype = struct.unpack(">H", frame[off:off + 2])[0]
            off += 2
            if etype in (0x8100, 0x88A8, 0x9100):
                off += 2
                continue
            break
        return frame[off:] if etype in (0x0800, 0x86DD) else None
    if linktype == 113:
        return frame[16:]
    if linktype == 276:
        return frame[20:]
    if linktype in (0, 108):
        return frame[4:]
    if linktype in DLT_INDEX:
        return frame
    return None


def tcp_segment(ip):
    """(src, dst, sport, dport, seq, ack, flags, payload) of an unfragmented TCP packet, or None."""
    if not ip:
        return None
    v = ip[0] >> 4
    if v == 4 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        frag = struct.unpack(">H", ip[6:8])[0]
        if ip[9] != 6 or frag & 0x3FFF:
            return None
        src, dst, t = ip[12:16], ip[16:20], ip[ihl:max(ihl, min(total, len(ip)))]
    elif v == 6 and len(ip) >= 40:
        if ip[6] != 6:
            return None
        plen = struct.unpack(">H", ip[4:6])[0]
        src, dst, t = ip[8:24], ip[24:40], ip[40:40 + plen]
    else:
        return None
    if len(t) < 20:
        return None
    sport, dport, seq, ack, off, flags = struct.unpack(">HHIIBB", t[:14])
    return src, dst, sport, dport, seq, ack, flags & 0x3F, t[(off >> 4) * 4:]


def write(outdir, target, name, blob):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    h = hashlib.sha1(blob).hexdigest()[:12]
    with open(os.path.join(d, f"{name}-{h}"), "wb") as f:
        f.write(blob)


def packets_seeds(outdir, name, frames):
    by_link = {}
    for lt, fr in frames:
        if lt in DLT_INDEX:
            by_link.setdefault(lt, []).append(fr)
    for lt, frs in by_link.items():
        # The first frames (handshake, greeting) and a few further windows of the capture.
        starts = sorted({0} | {i * len(frs) // SEEDS_PER_FILE for i in range(1, SEEDS_PER_FILE)})
        for s in starts:
            blob = bytearray([DLT_INDEX[lt]])
            for fr in frs[s:s + FRAMES_PER_SEED]:
                cut = fr[:MAX_FRAME]
                control = 0 if len(cut) == len(fr) else min(15, (len(fr) - len(cut)) // 97 + 1)
                blob += struct.pack(">HB", len(cut), control) + cut
            write(outdir, "packets", f"{name}-{lt}-{s}", bytes(blob))


def reassembly_seeds(outdir, name, frames):
    """Re-encodes real TCP segments in the `reassembly` target's format (see reassembly.swift)."""
    segs = []
    for lt, fr in frames:
        s = tcp_segment(ip_payload(lt, fr))
        if s:
            segs.append(s)
    flows = {}  # (a, b) endpoint pair -> (slot, first speaker)
    base = {}   # (slot, side) -> (real ISN offset)
    cursor = {}
    start_cursor = [1000, 0xFFFFFF00]
    blobs, blob, count = [], bytearray(), 0
    for src, dst, sport, dport, seq, ack, flags, payload in segs:
        a, b = (src, sport), (dst, dport)
        key = frozenset((a, b))
        if key not in flows:
            if len(flows) >= 4:
                continue
            flows[key] = (len(flows), a)
        slot, first = flows[key]
        side = 0 if a == first else 1
        for sd, real in ((side, seq),):
            if (slot, sd) not in base:
                base[(slot, sd)] = (start_cursor[sd] - real) & 0xFFFFFFFF
                cursor[(slot, sd)] = start_cursor[sd]
        mapped_seq = (seq + base[(slot, side)]) & 0xFFFFFFFF
        peer = (slot, 1 - side)
        mapped_ack = (ack + base[peer]) & 0xFFFFFFFF if peer in base else cursor.get(peer, start_cursor[1 - side])
        pieces = [payload[i:i + 255] for i in range(0, len(payload), 255)] or [b""]
        for n, piece in enumerate(pieces):
            f = flags if n == len(pieces) - 1 else flags & ~0x01  # FIN only on the last piece
            if n > 0:
                f &= ~0x02
            cur = cursor[(slot, side)]
            delta = (mapped_seq - cur + 0x80000000) % 0x100000000 - 0x80000000
            delta = max(-32768, min(32767, delta))
            peer_cur = cursor.get(peer, start_cursor[1 - side])
            adelta = (mapped_ack - peer_cur + 0x80000000) % 0x100000000 - 0x80000000
            adelta = max(-32768, min(32767, adelta))
            route = side | slot << 1 | (1 << 3 if count else 0)
            blob += struct.pack(">BBhhBB", route, f, delta, adelta, len(piece), 0) + piece
            real_seq = (cur + delta) & 0xFFFFFFFF
            cursor[(slot, side)] = (real_seq + len(piece) + (1 if f & 0x02 else 0)) & 0xFFFFFFFF
            mapped_seq = (mapped_seq + len(piece) + (1 if f & 0x02 else 0)) & 0xFFFFFFFF
            count += 1
        if count >= SEGMENTS_PER_SEED:
            blobs.append(bytes(blob))
            break
    else:
        if blob:
            blobs.append(bytes(blob))
    for i, bl in enumerate(blobs):
        write(outdir, "reassembly", f"{name}-{i}", bl)


def smtp_seed(outdir, name, text, max_bytes=8192):
    """`tshark -q -z follow,tcp,raw,N` output -> smtp target chunks (client lines unindented,
    server lines indented with a tab)."""
    blob = bytearray([0])
    body = text.split("===================================================================")
    lines = body[1].splitlines() if len(body) > 1 else []
    for line in lines:
        if not line.strip() or line.startswith(("Follow", "Filter", "Node")):
            continue
        server = line.startswith("\t")
        hexdata = line.strip()
        try:
            data = bytes.fromhex(hexdata)
        except ValueError:
            continue
        for i in range(0, len(data), 255):
            piece = data[i:i + 255]
            blob += bytes([1 if server else 0, len(piece)]) + piece
        if len(blob) >= max_bytes:
            break
    blob.append(0)
    if len(blob) > 2:
        write(outdir, "smtp", name, bytes(blob))


def follow_chunks(text):
    """`tshark -q -z follow,tcp,raw,N` output -> [(server, bytes)] in stream order."""
    body = text.split("===================================================================")
    chunks = []
    for line in (body[1].splitlines() if len(body) > 1 else []):
        if not line.strip() or line.startswith(("Follow", "Filter", "Node")):
            continue
        try:
            chunks.append((line.startswith("\t"), bytes.fromhex(line.strip())))
        except ValueError:
            continue
    return chunks


def tls_blob(options, chunks, piece=4096):
    """tls target input: options byte, then (u8 selector, u16 BE length, bytes) chunks."""
    blob = bytearray([options])
    for server, data in chunks:
        for i in range(0, len(data), piece):
            part = data[i:i + piece]
            blob += bytes([1 if server else 0]) + struct.pack(">H", len(part)) + part
    blob.append(0)
    return bytes(blob)


TLS_HANDSHAKE = re.compile(rb"\x16\x03[\x00-\x04]")


def tls_seed(outdir, name, text, max_bytes=16384):
    """The TLS part of a stream: each direction from its first handshake record header on (after
    STARTTLS's 220, or from the start on port 465); nothing when the client never sends one."""
    started = [False, False]
    kept, size = [], 0
    for server, data in follow_chunks(text):
        d = 1 if server else 0
        if not started[d]:
            m = TLS_HANDSHAKE.search(data)
            if not m:
                continue
            started[d] = True
            data = data[m.start():]
        kept.append((server, data))
        size += len(data)
        if size >= max_bytes:
            break
    if started[0]:
        write(outdir, "tls", name, tls_blob(0, kept))


def rfc8448_seeds(outdir, swift_file):
    """The RFC 8448 §3 records as the TLS tests spell them (`static let x = hex("..") + hex(..)`)."""
    with open(swift_file) as f:
        src = f.read()
    one = r'hex\((?:"""|")([^"]*)(?:"""|")\)'
    records = {}
    for m in re.finditer(r'static let (\w+Record) = ((?:%s(?: \+ )?)+)' % one, src):
        records[m.group(1)] = bytes.fromhex(" ".join(re.findall(one, m.group(2))))
    order = [(False, "clientHelloRecord"), (True, "serverHelloRecord"), (True, "serverFlightRecord"),
             (False, "clientFinishedRecord"), (True, "newSessionTicketRecord"), (False, "clientApplicationRecord"),
             (True, "serverApplicationRecord"), (False, "clientAlertRecord"), (True, "serverAlertRecord")]
    flights = [(server, records[name]) for server, name in order]
    for options in (0, 1, 3):  # no keys, the target's key log, the key log with small limits
        write(outdir, "tls", f"rfc8448-{options}", tls_blob(options, flights))
    write(outdir, "tls", "rfc8448-pieces", tls_blob(1, flights, piece=61))


def main(argv):
    if argv[1:2] == ["--smtp"]:
        smtp_seed(argv[2], argv[3], sys.stdin.read())
        return
    if argv[1:2] == ["--tls"]:
        tls_seed(argv[2], argv[3], sys.stdin.read())
        return
    if argv[1:2] == ["--rfc8448"]:
        rfc8448_seeds(argv[2], argv[3])
        return
    outdir = argv[1]
    for path in argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.basename(os.path.dirname(path)) + "_" + os.path.splitext(os.path.basename(path))[0]
        frames = list(read_pcap(data))
        if not frames:
            continue
        packets_seeds(outdir, name, frames)
        reassembly_seeds(outdir, name, frames)


if __name__ == "__main__":
    main(sys.argv)
