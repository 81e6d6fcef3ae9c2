#!/usr/bin/env python3
"""Deliver the lab's fixed messages with Python's smtplib, with its debug output on.

One connection carries three messages (no RSET between them, as smtplib does;
--messages sends fewer):
an ordinary message, a message with two recipients, and a notification with
the null sender (MAIL FROM:<>).  smtplib's own debug output (stderr) is the
transcript; '=== session' marks the start of the connection.  The client calls
ehlo() itself before sendmail(), as many scripts do: when the server refuses EHLO,
smtplib then never tries HELO.

--eml FILE (repeatable) sends those files instead, byte for byte (line ends made
CRLF), from alice@example.net to bob@example.org on one connection, with
MAIL FROM ... BODY=8BITMIME: for messages with raw 8-bit headers.
"""
import argparse
import smtplib
import sys

MESSAGES = [
    ("alice@example.net", ["bob@example.org"], "Sent with smtplib",
     "20260302092200.1014@ws01.example.net", "First of three messages on one connection."),
    ("alice@example.net", ["bob@example.org", "carol@example.org"], "Two recipients",
     "20260302092201.1015@ws01.example.net", "Second message, two recipients."),
    ("", ["dave@example.org"], "Delivery status notification",
     "20260302092202.1016@mx.example.net", "Third message, sent with the null sender."),
]


def build(frm, to, subject, msgid, body):
    return ("Date: Mon, 02 Mar 2026 09:22:00 +0000\r\n"
            f"From: {'MAILER-DAEMON@example.net' if not frm else 'Alice Example <' + frm + '>'}\r\n"
            f"To: {', '.join(to)}\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" + body + "\r\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--helo", default="ws01.example.net")
    p.add_argument("--messages", type=int, default=len(MESSAGES), help="how many of the messages to send")
    p.add_argument("--eml", action="append", default=[], help="send this file as it is (repeatable)")
    a = p.parse_args()
    print("=== session 1", file=sys.stderr, flush=True)
    s = smtplib.SMTP(local_hostname=a.helo)
    s.set_debuglevel(1)
    s.connect(a.server, a.port)
    s.ehlo(a.helo)
    try:
        for path in a.eml:
            with open(path, "rb") as f:
                raw = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            # bytes go out unchanged (smtplib encodes only str messages)
            s.sendmail("alice@example.net", ["bob@example.org"], raw, mail_options=["BODY=8BITMIME"])
        for frm, to, subject, msgid, body in ([] if a.eml else MESSAGES[:a.messages]):
            s.sendmail(frm, to, build(frm, to, subject, msgid, body).encode())
    except smtplib.SMTPException as e:
        # A refusal ends the run (the transcript shows it); leave politely.
        print(f"=== refused: {e}", file=sys.stderr, flush=True)
    s.quit()


if __name__ == "__main__":
    main()
