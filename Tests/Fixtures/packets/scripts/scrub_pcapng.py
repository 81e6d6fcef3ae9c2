#!/usr/bin/env python3
"""Drop the shb_hardware and shb_os options from pcapng Section Header Blocks.

editcap/mergecap record the build machine's OS and CPU there; the fixtures
should not depend on (or reveal) the machine that generated them. Only
shb_userappl and shb_comment are kept. Rewrites the files in place.

usage: scrub_pcapng.py FILE...
"""
import struct
import sys

KEEP = {1, 4}  # opt_comment, shb_userappl


def scrub(buf):
    out, off = [], 0
    while off < len(buf):
        btype, = struct.unpack_from("<I", buf, off)
        if btype == 0x0A0D0D0A:
            bom, = struct.unpack_from("<I", buf, off + 8)
            assert bom == 0x1A2B3C4D, "only little-endian sections are handled"
        blen, = struct.unpack_from("<I", buf, off + 4)
        block = buf[off:off + blen]
        if btype == 0x0A0D0D0A:
            fixed = block[8:24]  # BOM, version, section length
            opts, o = [], 24
            while o + 4 <= blen - 4:
                code, olen = struct.unpack_from("<HH", block, o)
                if code == 0:
                    break
                padded = (olen + 3) // 4 * 4
                if code in KEEP:
                    opts.append(block[o:o + 4 + padded])
                o += 4 + padded
            if opts:
                opts.append(b"\0\0\0\0")  # opt_endofopt
            body = fixed + b"".join(opts)
            n = 12 + len(body)
            block = struct.pack("<II", btype, n) + body + struct.pack("<I", n)
        out.append(block)
        off += blen
    return b"".join(out)


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(scrub(data))
