#!/usr/bin/env python3
"""Checks smtpscope's JSON output against the truth file written by make-corpus.py.

    check_truth.py CORPUS.pcap.truth.jsonl OUT.jsonl

Truth has one line per transaction (every MAIL FROM sent), numbered by session and by
transaction within the session. smtpscope numbers sessions in its own order, so sessions are
matched by their client and server endpoints, and transactions by their order within them.
Prints counts, per-field mismatches (first 5 examples each), the transactions whose final
CRLF.CRLF is cut by a segment boundary (eod_split) and the pipelined ones whose DATA was refused,
then "truth check: PASS" (exit 0) or "truth check: FAIL" (exit 1).
"""
import json
import sys
from collections import defaultdict

FIELDS = ("mail_from", "rcpt_to", "rcpt_rejected", "size", "queue_id", "subject", "message_id")
EXAMPLES = 5


def expected(t):
    subject = t.get("subject_decoded", t["subject"])
    return {"mail_from": t["mail_from"], "rcpt_to": t["rcpt_to"], "rcpt_rejected": t["rcpt_rejected"],
            "size": t["size"], "queue_id": t["queue_id"], "subject": subject, "message_id": t["message_id"]}


def reported(o):
    h = o.get("headers") or {}
    return {"mail_from": o["mail_from"], "rcpt_to": o["rcpt_to"],
            "rcpt_rejected": [r["address"] for r in o["rcpt_rejected"]],
            "size": o["size"], "queue_id": o["queue_id"], "subject": h.get("subject"),
            "message_id": h.get("message_id")}


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    truth = defaultdict(list)
    for t in load(sys.argv[1]):
        truth[(t["client"], t["server"])].append(t)
    ours = defaultdict(list)
    for o in load(sys.argv[2]):
        if o.get("type") == "transaction":
            ours[(o["client"], o["server"])].append(o)

    n_truth = found = missing = extra = 0
    bad = defaultdict(list)                        # field -> [example]
    groups = {"eod_split": [0, 0], "refused pipelined DATA": [0, 0]}   # name -> [total, passed]
    missing_ex, extra_ex = [], []
    for key in sorted(set(truth) | set(ours)):
        ts = sorted(truth.get(key, []), key=lambda t: (t["session"], t["txn"]))
        os_ = sorted(ours.get(key, []), key=lambda o: (o["session"], o["index"]))
        n_truth += len(ts)
        for o in os_[len(ts):]:
            extra += 1
            extra_ex.append("%s -> %s smtpscope session %d #%d MAIL FROM:<%s>" % (
                key + (o["session"], o["index"], o["mail_from"])))
        for i, t in enumerate(ts):
            where = "%s -> %s truth session %d txn %d" % (key + (t["session"], t["txn"]))
            names = [n for n, hit in (("eod_split", t["eod_split"]),
                                      ("refused pipelined DATA", t["pipelined"] and t["data_code"] != 354)) if hit]
            for n in names:
                groups[n][0] += 1
            if i >= len(os_):
                missing += 1
                missing_ex.append(where)
                continue
            found += 1
            want, got = expected(t), reported(os_[i])
            wrong = [f for f in FIELDS if want[f] != got[f]]
            for f in wrong:
                bad[f].append("%s (smtpscope session %d #%d): truth %s, smtpscope %s" % (
                    where, os_[i]["session"], os_[i]["index"],
                    json.dumps(want[f], ensure_ascii=False), json.dumps(got[f], ensure_ascii=False)))
            for n in names:
                groups[n][1] += not wrong

    print("truth transactions %d, found %d, missing %d, extra %d" % (n_truth, found, missing, extra))
    for title, ex in (("missing", missing_ex), ("extra", extra_ex)):
        for e in ex[:EXAMPLES]:
            print("  %s: %s" % (title, e))
    for f in FIELDS:
        print("%-14s %d mismatches" % (f, len(bad[f])))
        for e in bad[f][:EXAMPLES]:
            print("    " + e)
    for n, (total, ok) in groups.items():
        print("%s: %d of %d correct" % (n, ok, total))
    ok = missing == 0 and extra == 0 and not any(bad.values()) and all(t == p for t, p in groups.values())
    print("truth check: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
