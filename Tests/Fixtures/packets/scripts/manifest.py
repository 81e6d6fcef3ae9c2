#!/usr/bin/env python3
"""Write manifest.json (to stdout) for the fixtures in DIR.

usage: manifest.py DIR DERIVE_FACTS_JSON

Every number comes from reading the files: the container headers are parsed
here, packet/TCP/SMTP facts come from tshark, and the libpcap view (packets
read, error text) comes from `tcpdump -r`. Generator facts (what a rewrite
inserted) are merged from DERIVE_FACTS_JSON written by derive.py.
"""
import collections
import hashlib
import json
import os
import re
import struct
import subprocess
import sys

FILES = [
    ("ethernet.pcap", "live capture on a veth inside a network namespace: Ethernet II, IPv4, one SMTP session"),
    ("sll.pcap", "same session captured with tcpdump -i any -y LINUX_SLL (Linux cooked v1)"),
    ("sll2.pcap", "same session captured with tcpdump -i any -y LINUX_SLL2 (Linux cooked v2)"),
    ("snaplen64.pcap", "same session captured with tcpdump -s 64: caplen < len, TCP header itself cut (options)"),
    ("ipv6.pcap", "live capture: Ethernet II, IPv6, one SMTP session"),
    ("two-interfaces.pcapng", "two simultaneous SMTP sessions on two veth interfaces, merged (mergecap -I none) into a pcapng with two Ethernet IDBs"),
    ("null.pcap", "ethernet.pcap + ipv6.pcap rewritten to DLT_NULL (4-byte host-order address family)"),
    ("loop.pcap", "ethernet.pcap + ipv6.pcap rewritten to DLT_LOOP (4-byte network-order address family)"),
    ("raw.pcap", "ethernet.pcap + ipv6.pcap rewritten to LINKTYPE_RAW (101): bare IPv4 and IPv6 packets"),
    ("raw-ipv4.pcap", "ethernet.pcap rewritten to LINKTYPE_IPV4 (228)"),
    ("raw-ipv6.pcap", "ipv6.pcap rewritten to LINKTYPE_IPV6 (229)"),
    ("vlan.pcap", "ethernet.pcap with an 802.1Q tag (VLAN 100) inserted in every frame"),
    ("qinq.pcap", "ethernet.pcap with 802.1ad outer tag (0x88a8, VLAN 200) + 802.1Q inner tag (VLAN 300)"),
    ("ipv6-ext.pcap", "ipv6.pcap with Hop-by-Hop and Destination Options headers inserted before TCP"),
    ("ipv4-options.pcap", "ethernet.pcap with IPv4 options (IHL 8 and IHL 15)"),
    ("ipv4-frag.pcap", "ethernet.pcap with two TCP segments split into 3 IPv4 fragments each, one set out of order"),
    ("ethernet-be.pcap", "ethernet.pcap rewritten as a big-endian classic pcap"),
    ("ethernet-nsec.pcap", "ethernet.pcap converted with editcap -F nsecpcap (nanosecond magic a1b23c4d)"),
    ("ethernet.pcapng", "ethernet.pcap converted with editcap -F pcapng (microsecond IDB)"),
    ("ethernet-nsec.pcapng", "ethernet-nsec.pcap converted with editcap -F pcapng (IDB if_tsresol = 9)"),
    ("mixed-linktypes.pcapng", "mergecap -F pcapng of ethernet.pcap (Ethernet) and the IPv6 session as LINKTYPE_RAW: two IDBs with different link types"),
    ("cut-short.pcap", "ethernet.pcap cut in the middle of a packet record"),
    ("not-a-capture.txt", "plain text file"),
    ("empty.pcap", "zero-byte file"),
    ("unsupported-linktype.pcap", "ethernet.pcap with the header link type changed to 147 (USER0)"),
]

LINKTYPE_NAMES = {0: "NULL", 1: "ETHERNET", 101: "RAW", 108: "LOOP", 113: "LINUX_SLL",
                  147: "USER0", 228: "IPV4", 229: "IPV6", 276: "LINUX_SLL2"}


def lt(n):
    return {"number": n, "name": LINKTYPE_NAMES.get(n, "?")}


def container(path):
    with open(path, "rb") as f:
        buf = f.read()
    info = {"size_bytes": len(buf)}
    if len(buf) < 4:
        info["format"] = "empty" if not buf else "unknown"
        return info
    m_le, = struct.unpack_from("<I", buf)
    m_be, = struct.unpack_from(">I", buf)
    for e, m, order in (("<", m_le, "little-endian"), (">", m_be, "big-endian")):
        if m in (0xA1B2C3D4, 0xA1B23C4D) and len(buf) >= 24:
            vmaj, vmin, _tz, _sf, snaplen, linktype = struct.unpack_from(e + "HHiIII", buf, 4)
            info.update({"format": "pcap", "magic": "%08x" % m, "byte_order": order,
                         "version": "%d.%d" % (vmaj, vmin),
                         "timestamp_resolution": "nsec" if m == 0xA1B23C4D else "usec",
                         "snaplen": snaplen, "link_type": lt(linktype)})
            return info
    if m_le == 0x0A0D0D0A and len(buf) >= 12:
        bom_le, = struct.unpack_from("<I", buf, 8)
        e = "<" if bom_le == 0x1A2B3C4D else ">"
        info.update({"format": "pcapng", "byte_order": "little-endian" if e == "<" else "big-endian"})
        idbs, off, blocks = [], 0, []
        while off + 12 <= len(buf):
            btype, blen = struct.unpack_from(e + "II", buf, off)
            blocks.append({0x0A0D0D0A: "SHB", 1: "IDB", 6: "EPB", 3: "SPB", 5: "ISB"}.get(btype, "0x%x" % btype))
            if btype == 1:
                linktype, _res, snaplen = struct.unpack_from(e + "HHI", buf, off + 8)
                idb = {"interface_id": len(idbs), "link_type": lt(linktype), "snaplen": snaplen,
                       "timestamp_resolution": "usec"}
                o = off + 16
                while o + 4 <= off + blen - 4:
                    code, olen = struct.unpack_from(e + "HH", buf, o)
                    if code == 0:
                        break
                    val = buf[o + 4:o + 4 + olen]
                    if code == 9:
                        r = val[0]
                        idb["timestamp_resolution"] = ("10^-%d s" % r) if r < 128 else ("2^-%d s" % (r & 127))
                        if r == 9:
                            idb["timestamp_resolution"] = "nsec"
                    elif code == 2:
                        idb["if_name"] = val.decode("utf-8", "replace")
                    o += 4 + (olen + 3) // 4 * 4
                idbs.append(idb)
            off += blen
        info["interfaces"] = idbs
        # block order: collapse runs, e.g. ["SHB", "IDB x2", "EPB x26"]
        runs = []
        for b in blocks:
            if runs and runs[-1][0] == b:
                runs[-1][1] += 1
            else:
                runs.append([b, 1])
        info["block_sequence"] = ["%s x%d" % (b, n) if n > 1 else b for b, n in runs]
        return info
    info["format"] = "unknown"
    return info


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def libpcap_view(path):
    rc, out, err = run(["tcpdump", "-n", "-r", path])
    lines = [l for l in err.splitlines() if l.strip()]
    # one line per packet starts at column 0; hex dumps of undecoded packets are indented
    res = {"tcpdump_exit_status": rc,
           "packets_read": len([l for l in out.splitlines() if l and not l[0].isspace()])}
    m = re.search(r"link-type ([^,\s]+)", err)
    if m:
        res["datalink"] = m.group(1)
    warnings = [l for l in lines if l.startswith("Warning:")]
    if warnings:
        res["warning"] = warnings[-1]
    errors = [l for l in lines if not l.startswith(("reading from file", "Warning:"))]
    res["error"] = None
    if errors:
        msg = errors[-1]
        if msg.startswith("tcpdump: "):
            msg = msg[len("tcpdump: "):]
        msg = msg.replace(path, "FILE")
        res["error"] = msg
    return res


FIELDS = ["frame.number", "frame.protocols", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id",
          "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.stream",
          "tcp.len", "tcp.flags.syn", "tcp.flags.ack", "tcp.checksum.status", "ieee8021ad.id", "vlan.id",
          "vlan.priority",
          "ip.flags.mf", "ip.frag_offset", "ip.id", "ip.reassembled.length", "ip.hdr_len",
          "smtp.req.command", "smtp.response.code", "_ws.expert.message"]


def tshark_frames(path):
    cmd = ["tshark", "-n", "-r", path, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in FIELDS:
        cmd += ["-e", f]
    rc, out, err = run(cmd)
    frames = []
    for line in out.splitlines():
        vals = line.split("\t")
        vals += [""] * (len(FIELDS) - len(vals))
        frames.append(dict(zip(FIELDS, vals)))
    err = "\n".join(l for l in err.splitlines() if "Running as user" not in l and l.strip())
    return frames, rc, err


def first(v):
    return v.split("|")[0] if v else ""


def endpoint(addr, port):
    return ("[%s]:%s" % (addr, port)) if ":" in addr else ("%s:%s" % (addr, port))


def follow_hashes(path, stream):
    """SHA-256 of each direction's reassembled TCP payload (tshark follow)."""
    rc, out, _ = run(["tshark", "-n", "-r", path, "-q", "-z", "follow,tcp,raw,%d" % stream])
    data = {0: bytearray(), 1: bytearray()}
    started = False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            started = True
            continue
        if not started or line.startswith("====="):
            continue
        side = 1 if line.startswith("\t") else 0
        data[side] += bytes.fromhex(line.strip())
    return data


def analyse(path):
    frames, rc, err = tshark_frames(path)
    res = {"packets": len(frames)}
    if err:
        res["tshark_message"] = err.replace(path, "FILE")
    if not frames:
        return res
    res["first_timestamp"] = frames[0]["frame.time_epoch"]
    res["last_timestamp"] = frames[-1]["frame.time_epoch"]
    res["truncated_packets"] = sum(1 for f in frames if f["frame.len"] != f["frame.cap_len"])
    stacks_p = collections.Counter(f["frame.protocols"] for f in frames)
    res["protocol_stacks"] = {k: v for k, v in sorted(stacks_p.items())}
    tcp = [f for f in frames if f["tcp.stream"]]
    res["tcp_packets"] = len(tcp)
    if any(f["frame.interface_id"] for f in frames):
        per_if = collections.Counter(int(f["frame.interface_id"]) for f in frames)
        res["packets_per_interface"] = {str(k): v for k, v in sorted(per_if.items())}
    stacks = collections.Counter()
    for f in frames:  # outer 802.1ad tag first, then 802.1Q tags
        ids = [int(v) for k in ("ieee8021ad.id", "vlan.id") for v in f[k].split("|") if v]
        if ids:
            stacks[tuple(ids)] += 1
    if stacks:
        res["vlan_ids"] = sorted({v for st in stacks for v in st})
        res["vlan_tag_stacks"] = [{"ids_outer_first": list(st), "frames": n} for st, n in sorted(stacks.items())]
        prios = sorted({int(v) for f in frames for v in f["vlan.priority"].split("|") if v})
        if prios:
            res["vlan_priorities"] = prios
    status = collections.Counter()
    for f in tcp:
        s = first(f["tcp.checksum.status"])
        status[{"0": "bad", "1": "good", "2": "unverified"}.get(s, s or "absent")] += 1
    res["tcp_checksum_status"] = dict(sorted(status.items()))
    ihl = sorted({int(v) for f in frames for v in f["ip.hdr_len"].split("|") if v})
    if ihl:
        res["ipv4_header_lengths"] = ihl

    conns = collections.OrderedDict()
    for f in tcp:
        sid = int(first(f["tcp.stream"]))
        src = first(f["ip.src"]) or first(f["ipv6.src"])
        dst = first(f["ip.dst"]) or first(f["ipv6.dst"])
        sp, dp = first(f["tcp.srcport"]), first(f["tcp.dstport"])
        c = conns.setdefault(sid, {"frames": [], "client": None, "server": None,
                                   "bytes": collections.Counter(), "pkts": collections.Counter(),
                                   "cmds": [], "codes": []})
        c["frames"].append((src, sp, dst, dp, f))
        if first(f["tcp.flags.syn"]) in ("1", "True") and first(f["tcp.flags.ack"]) in ("0", "False"):
            c["client"], c["server"] = endpoint(src, sp), endpoint(dst, dp)
    out = []
    for sid, c in conns.items():
        if c["client"] is None:  # no SYN seen: the SMTP port is the server
            src, sp, dst, dp, _ = c["frames"][0]
            if sp == "25":
                c["client"], c["server"] = endpoint(dst, dp), endpoint(src, sp)
            else:
                c["client"], c["server"] = endpoint(src, sp), endpoint(dst, dp)
        for src, sp, dst, dp, f in c["frames"]:
            d = "client_to_server" if endpoint(src, sp) == c["client"] else "server_to_client"
            c["bytes"][d] += int(first(f["tcp.len"]) or 0)
            c["pkts"][d] += 1
            c["cmds"] += [x for x in f["smtp.req.command"].split("|") if x]
            c["codes"] += [int(x) for x in f["smtp.response.code"].split("|") if x]
        conn = {"tcp_stream": sid, "client": c["client"], "server": c["server"],
                "packets": {"client_to_server": c["pkts"]["client_to_server"],
                            "server_to_client": c["pkts"]["server_to_client"]},
                "payload_bytes": {"client_to_server": c["bytes"]["client_to_server"],
                                  "server_to_client": c["bytes"]["server_to_client"]},
                "smtp_commands": c["cmds"], "smtp_reply_codes": c["codes"]}
        if res["truncated_packets"] == 0:
            data = follow_hashes(path, sid)
            # Node 0 of tshark's follow output is the side that sent the first segment
            first_src = endpoint(c["frames"][0][0], c["frames"][0][1])
            a, b = (0, 1) if first_src == c["client"] else (1, 0)
            conn["payload_sha256"] = {"client_to_server": hashlib.sha256(data[a]).hexdigest(),
                                      "server_to_client": hashlib.sha256(data[b]).hexdigest()}
            assert len(data[a]) == c["bytes"]["client_to_server"], (path, sid)
            assert len(data[b]) == c["bytes"]["server_to_client"], (path, sid)
        else:
            conn["payload_captured"] = False
        out.append(conn)
    res["tcp_connections"] = out

    frags = [f for f in frames if f["ip.flags.mf"] in ("1", "True") or (f["ip.frag_offset"] not in ("", "0"))]
    if frags:
        res["ipv4_fragments"] = [
            {"frame": int(f["frame.number"]), "ip_id": int(first(f["ip.id"]), 16),
             # tshark 4.0 reports ip.frag_offset in 8-byte units
             "offset_8byte_units": int(first(f["ip.frag_offset"])),
             "offset_bytes": 8 * int(first(f["ip.frag_offset"])),
             "more_fragments": first(f["ip.flags.mf"]) in ("1", "True"),
             "reassembled_ip_payload_length": int(first(f["ip.reassembled.length"])) if f["ip.reassembled.length"] else None,
             "reassembled_tcp_payload_length": int(first(f["tcp.len"])) if f["tcp.len"] else None}
            for f in frags]
    return res


def main():
    d, facts_path = sys.argv[1], sys.argv[2]
    facts = {}
    if os.path.exists(facts_path):
        with open(facts_path) as f:
            facts = json.load(f)
    manifest = {
        "about": "Facts about each fixture, read back from the files with tshark, tcpdump -r (libpcap) "
                 "and a container-header parser. Regenerate with make-fixtures.sh. "
                 "Timestamps are UTC epoch seconds with 9 fractional digits. "
                 "payload_bytes count TCP payload (tcp.len) per direction after IPv4 reassembly; "
                 "payload_sha256 hashes each direction's reassembled byte stream. "
                 "tcp_packets counts frames in which tshark decodes a TCP header (for fragments: the "
                 "frame that completes reassembly). libpcap.error is tcpdump's message with the path "
                 "replaced by FILE.",
        "tools": {"tshark": run(["tshark", "--version"])[1].splitlines()[0],
                  "libpcap": re.search(r"libpcap version \S+", run(["tcpdump", "--version"])[1] +
                                       run(["tcpdump", "--version"])[2]).group(0)},
        "files": {},
    }
    for name, desc in FILES:
        path = os.path.join(d, name)
        entry = {"description": desc}
        entry.update(container(path))
        entry["libpcap"] = libpcap_view(path)
        entry["tshark"] = analyse(path)
        if name in facts:
            entry["generator"] = facts[name]
        manifest["files"][name] = entry
    text = json.dumps(manifest, indent=2)
    # put arrays of plain numbers/strings on one line
    text = re.sub(r"\[\s+((?:(?:-?\d+|\"[^\"\n]*\"),\s+)*(?:-?\d+|\"[^\"\n]*\"))\s+\]",
                  lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
