#!/usr/bin/env python3
"""Write the fixed ~2 MB test message (seeded pseudo-random attachment) to stdout."""
import base64
import random
import sys

rng = random.Random(20260302)
blob = bytes(rng.getrandbits(8) for _ in range(1_450_000))
b64 = base64.b64encode(blob).decode()
lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
out = ("Date: Mon, 02 Mar 2026 09:50:00 +0000\n"
       "From: Alice Example <alice@example.net>\n"
       "To: bob@example.org\n"
       "Subject: Large attachment over a lossy link\n"
       "Message-ID: <20260302095000.1030@ws01.example.net>\n"
       "MIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=\"lab-boundary-1\"\n"
       "\n"
       "--lab-boundary-1\n"
       "Content-Type: text/plain; charset=us-ascii\n"
       "\n"
       "The attachment is 1.45 MB of seeded pseudo-random data.\n"
       "\n"
       "--lab-boundary-1\n"
       "Content-Type: application/octet-stream; name=\"data.bin\"\n"
       "Content-Transfer-Encoding: base64\n"
       "Content-Disposition: attachment; filename=\"data.bin\"\n"
       "\n" + "\n".join(lines) + "\n"
       "--lab-boundary-1--\n")
sys.stdout.write(out)
