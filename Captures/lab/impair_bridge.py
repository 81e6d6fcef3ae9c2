#!/usr/bin/env python3
"""Layer-2 bridge between two interfaces that drops, reorders and duplicates frames.

Used instead of the kernel's netem qdisc, which this kernel may lack.  Runs in
its own network namespace, reads every frame arriving on one interface with an
AF_PACKET socket and writes it to the other.  TCP segments that carry data are
impaired with a seeded random generator:

  --loss P      drop the frame
  --dup P       send the frame twice
  --reorder P   hold the frame back and send it after the next frame in the
                same direction (or after --hold seconds if none comes)

All other frames (ARP, SYN/FIN, pure ACKs) pass unchanged.  Each impairment
is logged as one JSON line to --log.
"""
import argparse
import json
import random
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def tcp_info(frame):
    """(src, sport, dst, dport, seq, payload length) of an IPv4 TCP frame with data, else None."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 6:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    if len(tcp) < 20:
        return None
    doff = (tcp[12] >> 4) * 4
    plen = total - ihl - doff
    if plen <= 0:
        return None
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    return (socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport, seq, plen)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="first interface")
    p.add_argument("--b", required=True, help="second interface")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--loss", type=float, default=0.02)
    p.add_argument("--dup", type=float, default=0.01)
    p.add_argument("--reorder", type=float, default=0.02)
    p.add_argument("--hold", type=float, default=0.02)
    p.add_argument("--log", required=True)
    a = p.parse_args()

    rng = random.Random(a.seed)
    socks = {}
    for name in (a.a, a.b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        socks[name] = s
    other = {a.a: socks[a.b], a.b: socks[a.a]}
    byfd = {s.fileno(): n for n, s in socks.items()}
    held = {}          # interface the frame came in on -> (frame, deadline, info)
    log = open(a.log, "w", buffering=1)
    counts = {"forwarded": 0, "dropped": 0, "duplicated": 0, "reordered": 0}

    def note(action, inif, info):
        src, sport, dst, dport, seq, plen = info
        log.write(json.dumps({"t": round(time.time(), 6), "action": action, "in": inif,
                              "src": f"{src}:{sport}", "dst": f"{dst}:{dport}",
                              "seq": seq, "len": plen}) + "\n")

    print("bridge ready", file=sys.stderr, flush=True)
    while True:
        now = time.time()
        for inif in list(held):
            frame, deadline, info = held[inif]
            if now >= deadline:
                other[inif].send(frame)
                del held[inif]
        timeout = 0.005 if held else 1.0
        r, _, _ = select.select(list(socks.values()), [], [], timeout)
        for s in r:
            inif = byfd[s.fileno()]
            frame, addr = s.recvfrom(65600)
            if addr[2] == PACKET_OUTGOING:
                continue
            out = other[inif]
            info = tcp_info(frame)
            if info is None:
                out.send(frame)
                counts["forwarded"] += 1
                continue
            x = rng.random()
            if x < a.loss:
                counts["dropped"] += 1
                note("drop", inif, info)
            elif x < a.loss + a.dup:
                out.send(frame)
                out.send(frame)
                counts["duplicated"] += 1
                note("duplicate", inif, info)
            elif x < a.loss + a.dup + a.reorder and inif not in held:
                held[inif] = (frame, time.time() + a.hold, info)
                counts["reordered"] += 1
                note("reorder", inif, info)
                continue
            else:
                out.send(frame)
                counts["forwarded"] += 1
            if inif in held:        # release a held frame after its successor
                out.send(held.pop(inif)[0])


if __name__ == "__main__":
    sys.exit(main())
