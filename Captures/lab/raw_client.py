#!/usr/bin/env python3
"""A small SMTP client on plain sockets, for input that ordinary clients do not send.

Scripts (--script):
  helo-no-hostname  greeting, 'HELO' with no name, 501, QUIT: a client that gives up
  typed             one character per TCP segment with short pauses, like a person
                    typing into telnet or netcat (lower-case commands, 'mail from: <a>')
  bdat              CHUNKING: a three-chunk message ending in 'BDAT 0 LAST', a
                    pipelined single-chunk message, and a BDAT after every
                    recipient was refused
  vrfy              EHLO, VRFY, then an ordinary message: used behind the inline
                    rewriter, which overwrites VRFY with X characters
  careless          HELO then MAIL and RCPT pipelined without PIPELINING offered, an
                    8-bit message without BODY=8BITMIME; then a second session
                    aborted with RST after RCPT
  oversize          a message larger than the SIZE the server offered (552)
  pause             EHLO, MAIL, RCPT, --pause seconds of silence (330), then DATA
  starttls-refused  STARTTLS to a server that does not offer it (502), then a
                    message in the clear
  plaintext-after-starttls
                    EHLO, STARTTLS (220), then EHLO again, MAIL, RCPT, DATA, a
                    message and QUIT, all in the clear: against a server that
                    answers STARTTLS with 220 and never starts TLS (the lab's
                    aiosmtpd_server.py --fake-starttls)
  message           EHLO, MAIL, RCPT, DATA, the message in --message (an .eml
                    file), QUIT; --source picks the client address, --start-at
                    an absolute start time and --pace a pause before each
                    command, so that two clients can be made to overlap

Every byte sent and received is logged as JSON lines to --log (the transcript
that truth.py reads).
"""
import argparse
import json
import socket
import struct
import sys
import time


class Client:
    def __init__(self, host, port, log, session, source=None, nodelay=False):
        self.log = log
        self.session = session
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(30)
        self.sock.connect((host, port))
        self.buf = b""
        self._log({"connect": "%s:%d" % self.sock.getsockname()[:2],
                   "server": "%s:%d" % (host, port)})

    def _log(self, obj):
        obj = dict(obj, session=self.session, t=round(time.time(), 6))
        self.log.write(json.dumps(obj) + "\n")
        self.log.flush()

    def send(self, data):
        self.sock.sendall(data.encode())
        self._log({"dir": "C", "data": data})

    def send_chunk(self, payload):
        """BDAT chunk payload (logged apart from command lines)."""
        self.sock.sendall(payload.encode())
        self._log({"dir": "C", "chunk": payload})

    def type(self, data, pause=0.012):
        """One character per segment (TCP_NODELAY, a pause between characters)."""
        for ch in data:
            self.sock.sendall(ch.encode())
            time.sleep(pause)
        self._log({"dir": "C", "data": data})

    def reply(self):
        """Read one complete (possibly multi-line) reply."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                d = self.sock.recv(65536)
                if not d:
                    raise ConnectionError("server closed the connection")
                self.buf += d
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                break
        self._log({"dir": "S", "data": "".join(l + "\r\n" for l in lines)})
        return int(lines[-1][:3]), lines

    def close(self):
        self.sock.close()
        self._log({"close": "C"})


def msg(subject, msgid, body, to="bob@example.org"):
    return ("Date: Mon, 02 Mar 2026 09:30:00 +0000\r\n"
            "From: Alice Example <alice@example.net>\r\n"
            f"To: {to}\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" + body)


def script_helo_no_hostname(a, log):
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send("HELO\r\n")
    code, _ = c.reply()          # 501 Syntax: HELO hostname
    time.sleep(0.2)
    c.send("QUIT\r\n")
    c.reply()
    c.close()


def script_typed(a, log):
    c = Client(a.server, a.port, log, 1, nodelay=True)
    c.reply()
    time.sleep(0.5)
    body = ("Subject: typed by hand\r\n"
            "Message-ID: <20260302093100.1009@ws01.example.net>\r\n"
            "\r\n"
            "hello bob, this was typed one key at a time.\r\n"
            ".\r\n")
    for line in ("helo ws01.example.net\r\n", "mail from: <alice@example.net>\r\n",
                 "rcpt to: <bob@example.org>\r\n", "data\r\n"):
        c.type(line)
        c.reply()
        time.sleep(0.3)
    c.type(body)
    c.reply()
    time.sleep(0.3)
    c.type("quit\r\n")
    c.reply()
    c.close()


def script_bdat(a, log):
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send(f"EHLO {a.helo}\r\n")
    c.reply()
    # 1: three chunks, the last one empty ('BDAT 0 LAST')
    m = msg("Sent in three chunks", "20260302093200.1010@ws01.example.net",
            "First part of the body.\r\n" + "Line of text in the middle of the body.\r\n" * 8 +
            "Last line.\r\n")
    cut = len(m) // 2
    parts = [m[:cut], m[cut:], ""]
    c.send("MAIL FROM:<alice@example.net>\r\n"); c.reply()
    c.send("RCPT TO:<bob@example.org>\r\n"); c.reply()
    for i, p in enumerate(parts):
        last = " LAST" if i == len(parts) - 1 else ""
        c.send(f"BDAT {len(p.encode())}{last}\r\n")
        if p:
            c.send_chunk(p)
        c.reply()
    # 2: pipelined MAIL, RCPT, RCPT, BDAT LAST and the chunk in one write
    m2 = msg("One pipelined chunk", "20260302093201.1011@ws01.example.net",
             "A single chunk sent together with the envelope.\r\n", to="bob@example.org, carol@example.org")
    cmds = ("MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n"
            "RCPT TO:<carol@example.org>\r\n" + f"BDAT {len(m2.encode())} LAST\r\n")
    c.sock.sendall((cmds + m2).encode())
    c._log({"dir": "C", "data": cmds})
    c._log({"dir": "C", "chunk": m2})
    for _ in range(4):
        c.reply()
    # 3: every recipient refused, the client sends BDAT anyway; the chunk is consumed
    m3 = msg("Nobody will get this", "20260302093202.1012@ws01.example.net",
             "This chunk follows a refused recipient.\r\n", to="nobody@example.org")
    c.send("MAIL FROM:<alice@example.net>\r\n"); c.reply()
    c.send("RCPT TO:<nobody@example.org>\r\n"); c.reply()
    c.send(f"BDAT {len(m3.encode())} LAST\r\n")
    c.send_chunk(m3)
    c.reply()
    c.send("QUIT\r\n")
    c.reply()
    c.close()


def script_vrfy(a, log):
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send(f"EHLO {a.helo}\r\n"); c.reply()
    c.send("VRFY bob@example.org\r\n"); c.reply()
    c.send("MAIL FROM:<alice@example.net>\r\n"); c.reply()
    c.send("RCPT TO:<bob@example.org>\r\n"); c.reply()
    c.send("DATA\r\n"); c.reply()
    c.send(msg("Through the inspecting firewall", "20260302093300.1013@ws01.example.net",
               "This message passed an SMTP-inspecting firewall.\r\n") + ".\r\n")
    c.reply()
    c.send("QUIT\r\n"); c.reply()
    c.close()


def script_message(a, log):
    if not a.message:
        raise SystemExit("--script message needs --message FILE")
    with open(a.message, newline="") as f:
        text = f.read()
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # CRLF line ends and dot-stuffing (RFC 5321 4.5.2)
    data = "".join(("." + ln if ln.startswith(".") else ln) + "\r\n" for ln in lines) + ".\r\n"
    if a.start_at:
        time.sleep(max(0.0, a.start_at - time.time()))
    c = Client(a.server, a.port, log, 1, source=a.source)
    c.reply()
    for cmd in (f"EHLO {a.helo}\r\n", f"MAIL FROM:<{a.mail_from}>\r\n", f"RCPT TO:<{a.rcpt_to}>\r\n",
                "DATA\r\n", data, "QUIT\r\n"):
        time.sleep(a.pace)
        c.send(cmd)
        c.reply()
    c.close()


def script_careless(a, log):
    """Two sessions of a careless client: (1) HELO, so no extension is offered, then MAIL and
    RCPT pipelined anyway, and a message with 8-bit (UTF-8) text but no BODY=8BITMIME; (2) EHLO,
    MAIL, RCPT, then the connection is aborted with a reset in the middle of the transaction."""
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send(f"HELO {a.helo}\r\n")
    c.reply()
    c.send("MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\n")
    c.reply()
    c.reply()
    c.send("DATA\r\n")
    c.reply()
    body = msg("Caf\u00e9 cr\u00e8me", "20260302094000.1051@ws01.example.net",
               "D\u00e9j\u00e0 vu: this text is UTF-8, sent without BODY=8BITMIME.\r\n")
    c.send(body.replace("charset=us-ascii", "charset=utf-8") + ".\r\n")
    c.reply()
    c.send("QUIT\r\n")
    c.reply()
    c.close()
    time.sleep(0.3)

    c = Client(a.server, a.port, log, 2)
    c.reply()
    c.send(f"EHLO {a.helo}\r\n")
    c.reply()
    c.send("MAIL FROM:<alice@example.net>\r\n")
    c.reply()
    c.send("RCPT TO:<bob@example.org>\r\n")
    c.reply()
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def script_oversize(a, log):
    """EHLO (the server offers SIZE), then a message larger than that SIZE, without declaring
    its size on MAIL: the server reads it all and refuses it with 552."""
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send(f"EHLO {a.helo}\r\n")
    _, lines = c.reply()
    limit = next(int(l[9:]) for l in lines if l[4:].upper().startswith("SIZE "))
    c.send("MAIL FROM:<alice@example.net>\r\n")
    c.reply()
    c.send("RCPT TO:<bob@example.org>\r\n")
    c.reply()
    c.send("DATA\r\n")
    c.reply()
    line = "x" * 76 + "\r\n"
    body = msg("Too large for the server", "20260302094500.1052@ws01.example.net",
               line * (limit // len(line) + 1000))
    c.send(body + ".\r\n")
    c.reply()
    c.send("QUIT\r\n")
    c.reply()
    c.close()


def script_pause(a, log):
    """EHLO, MAIL, RCPT, then 330 seconds of silence (longer than RFC 5321's five-minute
    timeouts), then DATA and the message: a client stuck while the server waits on."""
    c = Client(a.server, a.port, log, 1)
    c.sock.settimeout(400)
    c.reply()
    for cmd in (f"EHLO {a.helo}\r\n", "MAIL FROM:<alice@example.net>\r\n", "RCPT TO:<bob@example.org>\r\n"):
        c.send(cmd)
        c.reply()
    time.sleep(a.pause)
    c.send("DATA\r\n")
    c.reply()
    c.send(msg("After a long pause", "20260302095500.1054@ws01.example.net", "Sent after five and a half minutes of silence.\r\n") + ".\r\n")
    c.reply()
    c.send("QUIT\r\n")
    c.reply()
    c.close()


def script_starttls_refused(a, log):
    """EHLO, then STARTTLS although the server did not offer it: refused; the client goes on in
    the clear with a message."""
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send(f"EHLO {a.helo}\r\n")
    c.reply()
    c.send("STARTTLS\r\n")
    c.reply()
    for cmd in ("MAIL FROM:<alice@example.net>\r\n", "RCPT TO:<bob@example.org>\r\n", "DATA\r\n",
                msg("Sent in the clear", "20260302095600.1055@ws01.example.net", "STARTTLS was refused.\r\n") + ".\r\n",
                "QUIT\r\n"):
        c.send(cmd)
        c.reply()
    c.close()


def script_plaintext_after_starttls(a, log):
    """EHLO, STARTTLS answered 220, and then -- no TLS handshake -- the rest of the dialogue in
    the clear, as in the decrypted export of a TLS-inspecting firewall."""
    c = Client(a.server, a.port, log, 1)
    c.reply()
    c.send(f"EHLO {a.helo}\r\n")
    c.reply()
    c.send("STARTTLS\r\n")
    code, _ = c.reply()
    if code != 220:
        raise SystemExit(f"STARTTLS answered {code}")
    for cmd in (f"EHLO {a.helo}\r\n", "MAIL FROM:<alice@example.net>\r\n", "RCPT TO:<bob@example.org>\r\n",
                "DATA\r\n",
                msg("Decrypted by the firewall", "20260302102000.1071@ws01.example.net",
                    "This dialogue went on in the clear after STARTTLS was answered with 220.\r\n") + ".\r\n",
                "QUIT\r\n"):
        c.send(cmd)
        c.reply()
    c.close()


SCRIPTS = {"helo-no-hostname": script_helo_no_hostname, "typed": script_typed,
           "bdat": script_bdat, "vrfy": script_vrfy, "message": script_message,
           "careless": script_careless, "oversize": script_oversize, "pause": script_pause,
           "starttls-refused": script_starttls_refused,
           "plaintext-after-starttls": script_plaintext_after_starttls}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--helo", default="ws01.example.net")
    p.add_argument("--script", required=True, choices=sorted(SCRIPTS))
    p.add_argument("--log", required=True)
    p.add_argument("--source", help="message: local address to connect from")
    p.add_argument("--message", help="message: the .eml file to send")
    p.add_argument("--mail-from", default="alice@example.net", help="message: envelope sender")
    p.add_argument("--rcpt-to", default="bob@example.org", help="message: envelope recipient")
    p.add_argument("--pace", type=float, default=0.0, help="message: seconds to wait before each command")
    p.add_argument("--pause", type=float, default=330.0, help="pause: seconds of silence before DATA")
    p.add_argument("--start-at", type=float, default=0.0, help="message: epoch time to connect at")
    a = p.parse_args()
    with open(a.log, "w") as log:
        SCRIPTS[a.script](a, log)


if __name__ == "__main__":
    sys.exit(main())
