#!/usr/bin/env python3
"""Write the ground-truth file NAME.truth.json for one capture.

Reads a JSON scenario description on standard input (written by
scenarios.sh).  The SMTP dialogue of every session is taken from what the
software itself reported -- the client's transcript (swaks, msmtp --debug,
smtplib debug output, the lab's raw client), the relaying Postfix's
debug_peer log, or the intercepting proxy's log -- and cross-checked
against the receiving Postfix's log (queue ids, Message-IDs, client ports).
Only the client port numbers of sessions whose software does not report
them are read from the capture (TCP SYNs, via tshark).

Description fields:
  name, capture, pcap, made_with, scenario
  server_log      path of the receiving Postfix's log lines for this scenario
  proxy_log       path of the proxy's JSON-lines log (middlebox scenarios)
  sessions        list, in the order the sessions started:
     format       swaks | msmtp | smtplib | events | postfix-debug | proxy | curl
     transcript   path of the transcript (not used for "proxy")
     leg          direct | client | server
     server       "ip:port" the session connected to
     client_ip    optional, to pick the right TCP connection in the capture
     messages     optional list of .eml files, one per message, used for
                  Subject / Message-ID when the transcript omits the body
     conn         proxy connection number (format "proxy")
     server_conn  optional, for a server leg: which of the proxy's server
                  connections for that client connection (reconnect mode)
     note         optional text copied to the session
     visible      optional false when the capture does not contain the session
     nat          optional object: the connection's addresses were translated
                  between this capture point and the server (the NAT's own
                  record, copied to the session as "address_translation");
                  the client address Postfix logged is then not expected to
                  match the capture's
     implicit_tls optional true: TLS from the first byte (port 465); the
                  session is marked tls and its transactions inside_tls
     tls_check    optional {"keys": path, "decode_as": ["tcp.port==N,smtp"]}:
                  a TLS session with a key log.  The session gets "commands"
                  (the client's commands in order, from the transcript),
                  "tls_by_client" (what the client reported: msmtp's "TLS
                  session parameters", the lab smtplib client's '=== tls' line,
                  or the proxy's tls event), "tls_by_server" (Postfix's "TLS
                  connection established" line, or the proxy's tls event), and
                  "tshark_check": what tshark 4.0 decodes from the capture with
                  that key log (ClientHello/ServerHello facts, JA3/JA3S,
                  certificates, alerts, the SMTP it decrypts, which key-log
                  lines belong to the session).  The tshark_check is a
                  cross-check made from the capture, not ground truth.
     extra        optional object merged into the session (e.g. tls_failure)
     proxy        optional object: the session is tunnelled through a SOCKS or
                  HTTP CONNECT proxy ("server" is then the proxy's address);
                  copied to the session as "proxy", with the client's record of
                  the proxy handshake added (curl -v) and the address the
                  proxy connected from, as Postfix logged it
"""
import ast
import base64
import collections
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

# ---------------------------------------------------------------------------
# events: ("C", line) client command/body line, ("S", line) server reply line,
# ("BODY", text) a whole message body, ("CHUNK", text) BDAT chunk payload,
# ("CLOSE", who)
# ---------------------------------------------------------------------------


def parse_swaks(text):
    """swaks transcript: '<-  ' server, ' -> ' client, '~' variants in TLS."""
    sessions = [[]]
    for raw in text.splitlines():
        m = re.match(r"^(<-  |<\*\* |<~  |<~\* )(.*)$", raw)
        if m:
            sessions[-1].append(("S", m.group(2), m.group(1).startswith("<~")))
            continue
        m = re.match(r"^ (->|~>) (.*)$", raw)
        if m:
            if re.fullmatch(r"\d+ lines sent", m.group(2)):
                # --suppress-data: the body is summarised; the end of data follows
                sessions[-1].append(("C", ".", m.group(1) == "~>"))
                continue
            sessions[-1].append(("C", m.group(2), m.group(1) == "~>"))
            continue
        if raw == " ->" or raw == " ~>":
            sessions[-1].append(("C", "", raw == " ~>"))
    return sessions


def parse_msmtp(text):
    """msmtp --debug: '<-- ' server, '--> ' client."""
    ev = []
    tls = False
    for raw in text.splitlines():
        if raw.startswith("<-- "):
            ev.append(("S", raw[4:], tls))
        elif raw.startswith("--> "):
            ev.append(("C", raw[4:], tls))
        elif raw == "-->":
            ev.append(("C", "", tls))
        elif raw.startswith("TLS session parameters") or raw.startswith("TLS certificate"):
            tls = True
    return [ev]


def parse_smtplib(text):
    """smtplib set_debuglevel(1): "send: '...'" / "reply: b'...'" lines.

    The lab's client prints '=== session' before each connection."""
    sessions = []
    ev = None
    in_data = False
    tls = False
    for raw in text.splitlines():
        if raw.startswith("=== session"):
            ev = []
            sessions.append(ev)
            tls = False
            continue
        if ev is None:
            continue
        if raw.startswith("=== tls "):
            tls = True          # the lab's TLS client: everything after this is inside TLS
            continue
        if raw.startswith("send: "):
            payload = ast.literal_eval(raw[6:])
            if isinstance(payload, bytes):
                # surrogateescape keeps 8-bit bytes that are not UTF-8 (see subject_facts)
                payload = payload.decode("utf-8", "surrogateescape")
            lines = payload.split("\r\n")
            if lines and lines[-1] == "":
                lines.pop()
            for ln in lines:
                ev.append(("C", ln, tls))
        elif raw.startswith("reply: b") or raw.startswith("reply: '"):
            payload = ast.literal_eval(raw[7:])
            if isinstance(payload, bytes):
                payload = payload.decode("utf-8", "replace")
            ev.append(("S", payload.rstrip("\r\n"), tls))
    return sessions


def parse_events(text):
    """JSON lines written by the lab's raw client: one object per event.

    {"session": n, "dir": "C"|"S", "data": "..."} raw text as sent/received
    {"session": n, "dir": "C", "chunk": "..."}  BDAT chunk payload
    {"session": n, "close": "C"|"S"}
    """
    by_session = collections.OrderedDict()
    bufs = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        e = json.loads(raw)
        sid = e.get("session", 0)
        ev = by_session.setdefault(sid, [])
        if "chunk" in e:
            ev.append(("CHUNK", e["chunk"], False))
            continue
        if "close" in e:
            ev.append(("CLOSE", e["close"], False))
            continue
        if "dir" not in e:
            continue
        key = (sid, e["dir"])
        buf = bufs.get(key, "") + e["data"]
        while "\r\n" in buf:
            line, buf = buf.split("\r\n", 1)
            ev.append((e["dir"], line, False))
        bufs[key] = buf
    return list(by_session.values())


def parse_curl(text):
    """curl -v: '> ' sent, '< ' received, '* ' curl's own notes.

    Returns (sessions, handshakes): the SMTP dialogue of each connection, and
    for each the lines of the proxy handshake curl reported (SOCKS notes, or the
    HTTP CONNECT request and response).  curl does not print the message it
    uploads; the end of data is put in after the 354.  curl does not print the
    QUIT it sends when it closes the connection at exit either."""
    sessions, handshakes = [], []
    ev = hs = None
    in_connect = False
    for raw in text.replace("\r", "\n").split("\n"):
        if raw.startswith("*   Trying ") or ev is None and raw[:2] in ("> ", "< "):
            ev, hs = [], []
            sessions.append(ev)
            handshakes.append(hs)
            in_connect = False
        if ev is None:
            continue
        if raw.startswith("* SOCKS") or raw.startswith("* Establish HTTP proxy tunnel") \
                or raw.startswith("* CONNECT phase completed") or raw.startswith("* Proxy replied"):
            hs.append(raw)
            continue
        if raw[:1] not in ("<", ">") or raw[1:2] not in ("", " "):
            continue
        line = raw[2:]
        if raw[0] == ">" and line.startswith("CONNECT ") and line.endswith("HTTP/1.1"):
            in_connect = True
        if in_connect:
            hs.append(raw)
            if raw[0] == "<" and line == "":
                in_connect = False          # end of the proxy's response header
            continue
        if raw[0] == ">":
            ev.append(("C", line, False))
        else:
            ev.append(("S", line, False))
            if line.startswith("354"):
                ev.append(("C", ".", False))    # the body is not printed
    return sessions, handshakes


def parse_postfix_debug(text, peer):
    """Postfix smtp client with debug_peer_list: '> host[addr]:port: cmd' / '< ...: reply'.

    A session starts at each greeting (a 220 reply that does not answer STARTTLS)."""
    sessions = []
    ev = None
    last_cmd = None
    for raw in text.splitlines():
        m = re.search(r"postfix/smtp\[\d+\]: ([<>]) (\S+): (.*)$", raw)
        if not m or peer not in m.group(2):
            continue
        who = "C" if m.group(1) == ">" else "S"
        line = m.group(3)
        if who == "S" and line.startswith("220") and (ev is None or (last_cmd or "").upper() != "STARTTLS"):
            ev = []
            sessions.append(ev)
        if ev is None:
            continue
        if who == "C":
            last_cmd = line
        ev.append((who, line, False))
    return sessions


def proxy_sessions(records, conn, server_conn=None):
    """Events of both legs of one proxied connection, from the proxy's log.

    Records with "leg" client/server and "dir" in (from_client, to_client,
    from_server, to_server) and "line" (or "body"/"bytes").  With server_conn,
    the server leg has only that server connection's records (reconnect mode)."""
    legs = {"client": [], "server": []}
    for r in records:
        if r.get("conn") != conn or "dir" not in r:
            continue
        d = r["dir"]
        leg = "client" if d in ("from_client", "to_client") else "server"
        if leg == "server" and server_conn is not None and r.get("server_conn", 1) != server_conn:
            continue
        who = "C" if d in ("from_client", "to_server") else "S"
        tls = bool(r.get("tls"))        # tls-shield mode: the line travelled inside TLS
        if "body" in r:
            legs[leg].append(("BODY", r["body"], tls))
        elif "line" in r:
            legs[leg].append((who, r["line"], tls))
        elif d == "close":
            legs[leg].append(("CLOSE", who, False))
    return legs


# ---------------------------------------------------------------------------
# the dialogue analyser
# ---------------------------------------------------------------------------

ADDR_RE = re.compile(r"^(?:MAIL FROM|RCPT TO)\s*:\s*(<[^>]*>|\S*)", re.I)


def addr_of(cmd):
    m = ADDR_RE.match(cmd.strip())
    if not m:
        return None
    a = m.group(1)
    if a.startswith("<") and a.endswith(">"):
        a = a[1:-1]
    if ":" in a and a.startswith("@"):      # source route
        a = a.split(":", 1)[1]
    return a


def headers_of(text):
    """Subject and Message-ID from an RFC 5322 message (unfolded)."""
    hdr = {}
    cur = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            break
        if line[:1] in (" ", "\t") and cur:
            hdr[cur] += " " + line.strip()
            continue
        if ":" in line:
            k, v = line.split(":", 1)
            cur = k.strip().lower()
            hdr.setdefault(cur, v.strip())
    return hdr.get("subject"), hdr.get("message-id")


def content_charset(text):
    """charset parameter of the message's Content-Type header, if any."""
    m = re.search(r"(?im)^Content-Type:[^\r\n]*;\s*charset=\"?([A-Za-z0-9_.:-]+)", text.split("\r\n\r\n")[0])
    return m.group(1).lower() if m else None


def subject_facts(subject, body):
    """For a Subject with raw 8-bit bytes that are not UTF-8 (kept as surrogate
    escapes by the smtplib parser): its bytes, and its text decoded with the
    charset the message declares, or windows-1252 when it declares none."""
    if subject is None or not any("\udc80" <= ch <= "\udcff" for ch in subject):
        return None
    raw = subject.encode("utf-8", "surrogateescape")
    cs = content_charset(body)
    text = raw.decode(cs or "cp1252", "replace")
    return {"subject": text, "subject_bytes_hex": raw.hex(),
            "subject_charset": f"{cs} (Content-Type charset)" if cs else
                               "windows-1252 (no charset declared anywhere; fallback)"}


class Analyser:
    def __init__(self):
        self.greeting = None
        self.helo = None
        self.helo_reply = None
        self.tls = False
        self.auth = []
        self.txns = []
        self.cur = None
        self.pending = collections.deque()
        self.data_mode = False
        self.body = []
        self.reply = []
        self.auth_cont = False
        self.unanswered = []
        self.quit = False
        self.starttls = None
        self.clear_after_starttls = False   # client lines in the clear after a 220 to STARTTLS
        self.commands = []                  # client command lines in order (no message text)

    # -- transactions -------------------------------------------------
    def _new_txn(self, mail_from, tls):
        t = {"mail_from": mail_from, "rcpt_to": [], "rcpt_rejected": [],
             "outcome": None, "queue_id": None, "subject": None, "message_id": None,
             "_rcpt_tried": 0, "_tls": tls, "_body": None, "_reply": None}
        self.txns.append(t)
        self.cur = t
        return t

    def _close(self, outcome, reply=None):
        t = self.cur
        if t is None:
            return
        if outcome in ("reset", "abandoned") and t["_rcpt_tried"] and not t["rcpt_to"]:
            outcome = "rejected"        # every recipient was refused
        t["outcome"] = outcome
        if reply is not None:
            t["_reply"] = reply
        self.cur = None

    # -- events -------------------------------------------------------
    def client_line(self, line, tls):
        if self.starttls == 220 and not tls:
            self.clear_after_starttls = True
        if self.data_mode:
            if line == ".":
                self.data_mode = False
                text = "\r\n".join(l[1:] if l.startswith(".") else l for l in self.body)
                if self.cur is not None and (self.body or not self.cur["_body"]):
                    self.cur["_body"] = text
                self.body = []
                self.pending.append(("EOD", "", line, tls))
            else:
                self.body.append(line)
            return
        self.commands.append({"command": line, "inside_tls": bool(tls)})
        if self.auth_cont:
            self.pending.append(("AUTHDATA", "", line, tls))
            self.auth_cont = False
            return
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb in ("MAIL", "RCPT"):
            arg = line
        self.pending.append((verb, arg, line, tls))
        if verb == "MAIL":
            if self.cur is not None:          # nested MAIL without reset
                self._close("abandoned")
            self._new_txn(addr_of(line), tls)
        elif verb == "RCPT" and self.cur is not None:
            self.cur["_rcpt_tried"] += 1
        elif verb == "QUIT":
            self.quit = True

    def body_event(self, text):
        if self.cur is not None:
            self.cur["_body"] = text
        # the proxy logs the end of data as a separate '.' line

    def chunk(self, text):
        if self.cur is not None:
            self.cur["_body"] = (self.cur["_body"] or "") + text

    def server_line(self, line, tls):
        self.reply.append(line)
        if len(line) >= 4 and line[3] == "-":
            return
        reply = self.reply
        self.reply = []
        code = int(reply[-1][:3]) if reply[-1][:3].isdigit() else 0
        self.handle_reply(code, reply, tls)

    def handle_reply(self, code, reply, tls):
        text = " ".join(r[4:] for r in reply)
        if self.greeting is None and not self.pending:
            self.greeting = reply[0]
            return
        if not self.pending:
            self.unanswered.append(reply[-1])
            return
        verb, arg, line, ctls = self.pending.popleft()
        ok = 200 <= code < 400
        t = self.cur
        if verb in ("EHLO", "HELO"):
            if self.helo is None or (200 <= code < 300):
                if self.helo is None or self.helo_reply is None or not (200 <= self.helo_reply < 300):
                    self.helo = arg.strip()
                    self.helo_reply = code
            if 200 <= code < 300 and t is not None:
                self._close("reset")
        elif verb == "MAIL":
            if not (200 <= code < 300) and t is not None:
                t["_mail_code"] = code
                self._close("rejected", reply[-1])
        elif verb == "RCPT":
            # the RCPT belongs to the most recent transaction, open or not
            t = self.txns[-1] if self.txns else None
            if t is not None:
                a = addr_of(line)
                if 200 <= code < 300:
                    t["rcpt_to"].append(a)
                else:
                    t["rcpt_rejected"].append({"address": a, "code": code})
        elif verb == "DATA":
            if code == 354:
                self.data_mode = True
                self.body = []
            elif t is not None:
                self._close("rejected", reply[-1])
        elif verb == "EOD":
            if t is not None:
                if 200 <= code < 300:
                    m = re.search(r"queued as ([0-9A-Za-z]+)", text)
                    t["queue_id"] = m.group(1) if m else None
                    self._close("queued", reply[-1])
                else:
                    self._close("rejected", reply[-1])
        elif verb == "BDAT":
            last = "LAST" in arg.upper().split()
            if t is not None:
                if not (200 <= code < 300):
                    self._close("rejected", reply[-1])
                elif last:
                    m = re.search(r"queued as ([0-9A-Za-z]+)", text)
                    t["queue_id"] = m.group(1) if m else None
                    self._close("queued", reply[-1])
        elif verb == "RSET":
            if t is not None:
                self._close("reset")
        elif verb == "STARTTLS":
            self.starttls = code
            if code == 220:
                self.tls = True
        elif verb == "AUTH":
            mech = arg.split()[0].upper() if arg.split() else ""
            self.auth.append({"mechanism": mech, "code": code})
            if code == 334:
                self.auth_cont = True
        elif verb == "AUTHDATA":
            if self.auth:
                self.auth[-1]["code"] = code
            if code == 334:
                self.auth_cont = True
        elif verb == "QUIT":
            if t is not None:
                self._close("abandoned")

    def finish(self, closed=True):
        if self.cur is not None:
            self._close("abandoned" if (closed or self.quit) else "incomplete")

    def tls_started(self, tls_flagged):
        """STARTTLS answered 220 -- and, where the transcript marks what was sent
        inside TLS, the client's next lines were indeed inside TLS."""
        if self.starttls != 220:
            return False
        return not (tls_flagged and self.clear_after_starttls)

    def feed(self, events):
        for kind, payload, tls in events:
            if kind == "C":
                self.client_line(payload, tls)
            elif kind == "S":
                self.server_line(payload, tls)
            elif kind == "BODY":
                self.body_event(payload)
            elif kind == "CHUNK":
                self.chunk(payload)
        return self


# ---------------------------------------------------------------------------
# captures and logs
# ---------------------------------------------------------------------------

def syns(pcap):
    """(client 'ip:port', server 'ip:port', interface) of each new TCP connection, in order."""
    if not pcap or not os.path.exists(pcap):
        return []
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
         "-T", "fields", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
         "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "frame.interface_name"],
        capture_output=True, text=True, check=True).stdout
    seen, res = set(), []
    for ln in out.splitlines():
        f = ln.split("\t")
        while len(f) < 7:
            f.append("")
        src = f[0] or f[1]
        dst = f[3] or f[4]
        cli = fmt_addr(src, f[2])
        srv = fmt_addr(dst, f[5])
        if (cli, srv) in seen:
            continue
        seen.add((cli, srv))
        res.append({"client": cli, "server": srv, "iface": f[6]})
    return res


def fmt_addr(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def postfix_facts(lines):
    """Queue ids with their client, message-id, sender and size, from Postfix's log."""
    q = collections.OrderedDict()
    ports = []
    for ln in lines:
        m = re.search(r"postfix/(?:[a-z]+/)?smtpd\[\d+\]: connect from \S+?\[([^\]]+)\]:(\d+)", ln)
        if m:
            ports.append(fmt_addr(m.group(1), m.group(2)))
        m = re.search(r": ([0-9A-F]{6,}): client=\S+?\[([^\]]+)\]:(\d+)", ln)
        if m:
            q.setdefault(m.group(1), {})["client"] = fmt_addr(m.group(2), m.group(3))
        m = re.search(r"postfix/cleanup\[\d+\]: ([0-9A-F]{6,}): message-id=(<[^>]*>|\S*)", ln)
        if m:
            q.setdefault(m.group(1), {})["message_id"] = m.group(2)
        m = re.search(r"postfix/cleanup\[\d+\]: ([0-9A-F]{6,}): info: header Subject: (.*?) from \S+\[", ln)
        if m:
            q.setdefault(m.group(1), {})["subject"] = m.group(2)
        m = re.search(r"postfix/qmgr\[\d+\]: ([0-9A-F]{6,}): from=<([^>]*)>, size=(\d+)", ln)
        if m:
            d = q.setdefault(m.group(1), {})
            d["from"] = m.group(2)
            d["size"] = int(m.group(3))
    return q, ports


# ---------------------------------------------------------------------------
# TLS: what the software reported, and tshark's cross-check with the key log
# ---------------------------------------------------------------------------

def tls_by_msmtp(text):
    """msmtp --debug: the 'TLS session parameters' and certificate lines."""
    out = {}
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("TLS session parameters"):
            out["session_parameters"] = lines[i + 1].strip() if i + 1 < len(lines) else None
        if ln.startswith("msmtp: "):
            out.setdefault("errors", []).append(ln)
    # the certificate block as msmtp printed it (Owner / Issuer sections)
    blk = []
    on = False
    for ln in lines:
        if ln.startswith("TLS certificate information"):
            on = True
        elif on and (ln.startswith("<--") or ln.startswith("-->") or ln.startswith("TLS session")):
            on = False
        if on:
            blk.append(ln.rstrip())
    if blk:
        out["certificate_information"] = blk
    return out


def tls_by_smtplib(text):
    for ln in text.splitlines():
        if ln.startswith("=== tls "):
            return json.loads(ln[8:])
    return None


def split_addr(a):
    ip, _, port = a.rpartition(":")
    return ip.strip("[]"), port


def tls_by_postfix(server_log, client):
    if not client:
        return None
    ip, port = split_addr(client)
    for ln in server_log:
        m = re.search(r"(postfix/\S+?)\[\d+\]: (\w+ TLS connection established from \S+?\[" + re.escape(ip)
                      + r"\]:" + port + r": .*)$", ln)
        if m:
            return {"by": m.group(1), "log": m.group(2)}
    # no TLS session: Postfix's record of the failed handshake
    fail = []
    for ln in server_log:
        m = re.search(r"(postfix/\S+?)\[\d+\]: (SSL_accept error from \S+?\[" + re.escape(ip) + r"\]:" + port + r": .*)$", ln)
        if m:
            fail.append(m.group(2))
            continue
        if fail and len(fail) == 1:
            m = re.search(r"postfix/\S+?\[\d+\]: (warning: TLS library problem: .*)$", ln)
            if m:
                fail.append(m.group(1))
    return {"by": "postfix/smtpd", "handshake_failed": fail} if fail else None


def _pdml_packets(cmd):
    out = subprocess.run(cmd + ["-T", "pdml"], capture_output=True, text=True, check=True).stdout
    return ET.fromstring(out).findall("packet") if out.strip() else []


def _field(el, name, attr="show"):
    f = el.find(f".//field[@name='{name}']")
    return f.get(attr) if f is not None else None


def _fields(el, name, attr="show"):
    return [f.get(attr) for f in el.iter("field") if f.get("name") == name]


def _x509_names(cert_el):
    """issuer and subject of one certificate in a Certificate message (PDML)."""
    res = {}
    for part in ("issuer", "subject"):
        f = cert_el.find(f".//field[@name='x509af.{part}']")
        if f is None:
            continue
        rdn = next((x for x in f.iter("field") if x.get("name", "").endswith(".rdnSequence")), None)
        show = (rdn if rdn is not None else f).get("showname") or ""
        m = re.search(r"\((.*)\)\s*$", show)
        res[part] = m.group(1) if m else show
    return res


def tshark_check(pcap, keys, client, server, decode_as=()):
    """What tshark decodes for one TCP connection, with and without the key log."""
    cip, cport = split_addr(client)
    sip, sport = split_addr(server)
    filt = f"tcp.port=={cport} && tcp.port=={sport} && ip.addr=={cip} && ip.addr=={sip}"
    dec = []
    for d in decode_as:
        dec += ["-d", d]
    base = ["tshark", "-r", pcap] + dec
    withkeys = base + ["-o", f"tls.keylog_file:{keys}"]
    tv = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    res = {"tool": tv, "command": " ".join(["tshark", "-r", os.path.basename(pcap)] + dec +
                                            ["-o", f"tls.keylog_file:{os.path.basename(keys)}"]),
           "client_hello": None, "server_hello": None, "certificates": [], "alerts": [],
           "other_handshake_messages": []}
    randoms = []
    for pkt in _pdml_packets(withkeys + ["-Y", f"({filt}) && (tls.handshake || tls.alert_message)"]):
        frame = int(_field(pkt, "frame.number"))
        src = _field(pkt, "ip.src")
        who = "client" if src == cip else "server"
        for hs in pkt.iter("field"):
            if hs.get("name") != "tls.handshake":
                continue
            typ = _field(hs, "tls.handshake.type")
            typ_name = (_field(hs, "tls.handshake.type", "showname") or "").split(": ", 1)[-1]
            if typ == "1":
                rnd = _field(hs, "tls.handshake.random", "value")
                randoms.append(rnd)
                res["client_hello"] = {
                    "frame": frame,
                    "legacy_version": (_field(hs, "tls.handshake.version", "showname") or "").split(": ", 1)[-1],
                    "supported_versions": [v.split(": ", 1)[-1] for v in
                                           _fields(hs, "tls.handshake.extensions.supported_version", "showname")],
                    "sni": _field(hs, "tls.handshake.extensions_server_name"),
                    "cipher_suites_offered": [v.split(": ", 1)[-1] for v in
                                              _fields(hs, "tls.handshake.ciphersuite", "showname")],
                    "extensions": [v.split(": ", 1)[-1] for v in
                                   _fields(hs, "tls.handshake.extension.type", "showname")],
                    "ja3": _field(hs, "tls.handshake.ja3"),
                    "ja3_full": _field(hs, "tls.handshake.ja3_full"),
                    "random": rnd}
            elif typ == "2":
                sv = [v.split(": ", 1)[-1] for v in _fields(hs, "tls.handshake.extensions.supported_version", "showname")]
                exts = [v.split(": ", 1)[-1] for v in _fields(hs, "tls.handshake.extension.type", "showname")]
                res["server_hello"] = {
                    "frame": frame,
                    "legacy_version": (_field(hs, "tls.handshake.version", "showname") or "").split(": ", 1)[-1],
                    "supported_version": sv[0] if sv else None,
                    "cipher_suite": (_field(hs, "tls.handshake.ciphersuite", "showname") or "").split(": ", 1)[-1],
                    "extensions": exts,
                    "encrypt_then_mac": any("encrypt_then_mac" in e for e in exts),
                    "extended_master_secret": any("extended_master_secret" in e for e in exts),
                    "ja3s": _field(hs, "tls.handshake.ja3s"),
                    "ja3s_full": _field(hs, "tls.handshake.ja3s_full")}
            elif typ == "11":
                for cert in hs.iter("field"):
                    if cert.get("name") == "tls.handshake.certificate":
                        res["certificates"].append({"frame": frame, "from": who, **_x509_names(cert)})
            if typ and typ not in ("1", "2"):
                res["other_handshake_messages"].append(f"{who}: {typ_name} (frame {frame})")
        for al in pkt.iter("field"):
            if al.get("name") == "tls.alert_message":
                res["alerts"].append({
                    "frame": frame, "from": who,
                    "level": (_field(al, "tls.alert_message.level", "showname") or "").split(": ", 1)[-1],
                    "description": (_field(al, "tls.alert_message.desc", "showname") or "").split(": ", 1)[-1]})
    sh = res["server_hello"] or {}
    res["negotiated_version"] = sh.get("supported_version") or sh.get("legacy_version")
    res["negotiated_cipher_suite"] = sh.get("cipher_suite")

    def smtp(cmd):
        out = subprocess.run(cmd + ["-Y", f"({filt}) && smtp", "-T", "fields", "-E", "occurrence=a",
                                    "-E", "aggregator=\x1f", "-e", "smtp.command_line",
                                    "-e", "smtp.response.code", "-e", "imf.subject", "-e", "imf.message_id"],
                             capture_output=True, text=True, check=True).stdout
        cmds, codes, imf = [], [], []
        for ln in out.splitlines():
            f = (ln.split("\t") + [""] * 4)[:4]
            cmds += [c.replace("\\r", "").replace("\\n", "").strip() for c in f[0].split("\x1f") if c]
            codes += [c for c in f[1].split("\x1f") if c]
            if f[2] or f[3]:
                imf.append({"subject": f[2] or None, "message_id": f[3] or None})
        return cmds, codes, imf
    clear_cmds, clear_codes, _ = smtp(base)
    all_cmds, all_codes, imf = smtp(withkeys)
    res["smtp_commands_without_key_log"] = clear_cmds
    res["smtp_commands_with_key_log"] = all_cmds
    res["smtp_reply_codes_with_key_log"] = all_codes
    res["imf_with_key_log"] = imf
    # the key log lines that belong to this connection (by the ClientHello's random)
    lines = []
    if os.path.exists(keys):
        with open(keys) as f:
            for ln in f:
                p = ln.split()
                if len(p) == 3 and p[1].lower() in randoms:
                    lines.append(f"{p[0]} {p[1]}")
    res["key_log_lines"] = lines
    return res


def key_log_summary(path):
    lines = []
    with open(path) as f:
        for ln in f:
            p = ln.split()
            if len(p) == 3 and not ln.startswith("#"):
                lines.append(f"{p[0]} {p[1]}")
    return {"file": os.path.basename(path), "format": "NSS key log (label, client random, secret)",
            "lines": lines}


def build(desc):
    warnings = []
    server_log = []
    if desc.get("server_log") and os.path.exists(desc["server_log"]):
        with open(desc["server_log"], errors="replace") as f:
            server_log = [l.rstrip("\n") for l in f if l.strip()]
    proxy_log = []
    if desc.get("proxy_log") and os.path.exists(desc["proxy_log"]):
        with open(desc["proxy_log"]) as f:
            proxy_log = [json.loads(l) for l in f if l.strip()]
    facts, logged_ports = postfix_facts(server_log)
    conns = syns(desc.get("pcap"))
    used = set()

    transcripts = []
    sessions = []
    cache = {}
    curl_handshakes = {}
    counters = collections.Counter()
    for spec in desc["sessions"]:
        fmt = spec["format"]
        if "conn" in spec:      # addresses of a proxied connection, from the proxy's log
            spec = dict(spec)
            for r in proxy_log:
                if r.get("conn") != spec["conn"]:
                    continue
                if r.get("event") == "accept":
                    spec.setdefault("server", r["original_dst"])
                    if spec["leg"] == "client":
                        spec["client"] = r["client"]
                if r.get("event") == "server_connected" and spec["leg"] == "server" \
                        and r.get("server_conn", 1) == spec.get("server_conn", 1):
                    spec["client"] = r["server_leg_local"]
        handshake = None
        if fmt == "proxy":
            legs = proxy_sessions(proxy_log, spec["conn"], spec.get("server_conn"))
            evs = legs[spec["leg"]]
        else:
            path = spec["transcript"]
            if path not in cache:
                with open(path, errors="replace") as f:
                    text = f.read()
                if path not in transcripts:
                    transcripts.append(path)
                if fmt == "swaks":
                    cache[path] = parse_swaks(text)
                elif fmt == "msmtp":
                    cache[path] = parse_msmtp(text)
                elif fmt == "smtplib":
                    cache[path] = parse_smtplib(text)
                elif fmt == "events":
                    cache[path] = parse_events(text)
                elif fmt == "postfix-debug":
                    cache[path] = parse_postfix_debug(text, spec["peer"])
                elif fmt == "curl":
                    cache[path], curl_handshakes[path] = parse_curl(text)
                else:
                    raise SystemExit(f"unknown transcript format {fmt}")
            idx = counters[path]
            counters[path] += 1
            evs = cache[path][idx]
            handshake = curl_handshakes[path][idx] if path in curl_handshakes else None
        a = Analyser().feed(evs)
        a.finish(closed=True)

        # which TCP connection: proxy log, else the next SYN to that server
        client = spec.get("client")
        server = spec.get("server")
        if client is None:
            for i, c in enumerate(conns):
                if i in used or c["server"] != server:
                    continue
                if spec.get("client_ip") and not c["client"].startswith(spec["client_ip"] + ":") \
                        and not c["client"].startswith("[" + spec["client_ip"] + "]:"):
                    continue
                if spec.get("iface") and c["iface"] and c["iface"] != spec["iface"]:
                    continue
                used.add(i)
                client = c["client"]
                break
        if client is None and spec.get("visible", True):
            warnings.append(f"no TCP connection found for session {len(sessions) + 1}")

        msgs = list(spec.get("messages", []))
        txns = []
        for t in a.txns:
            subject, msgid = (None, None)
            qid = t["queue_id"]
            if t["_body"]:
                subject, msgid = headers_of(t["_body"])
            elif qid and qid in facts and (facts[qid].get("subject") or facts[qid].get("message_id")):
                # body not in the transcript: take what the receiving Postfix logged
                subject, msgid = facts[qid].get("subject"), facts[qid].get("message_id")
            elif t["outcome"] == "queued" and msgs:
                with open(msgs.pop(0)) as f:
                    subject, msgid = headers_of(f.read())
            t["subject"], t["message_id"] = subject, msgid
            raw_subject = subject_facts(subject, t["_body"] or "")
            if raw_subject:
                t["subject"] = raw_subject.pop("subject")
                t.update(raw_subject)
            if qid and qid in facts:
                fx = facts[qid]
                if fx.get("message_id") and msgid and fx["message_id"] != msgid:
                    warnings.append(f"{qid}: Message-ID differs: transcript {msgid}, Postfix {fx['message_id']}")
                if fx.get("from") is not None and fx["from"] != t["mail_from"]:
                    warnings.append(f"{qid}: sender differs: transcript {t['mail_from']}, Postfix {fx['from']}")
                if client and fx.get("client") and fx["client"] != client and spec["leg"] != "client" \
                        and not spec.get("nat"):
                    warnings.append(f"{qid}: client differs: capture {client}, Postfix {fx['client']}")
                if "size" in fx:
                    t["size"] = fx["size"]
            elif qid and server_log:
                warnings.append(f"queue id {qid} not in the server log")
            out = {k: t[k] for k in ("mail_from", "rcpt_to", "rcpt_rejected", "outcome",
                                     "queue_id", "subject", "message_id")}
            for k in ("subject_bytes_hex", "subject_charset"):
                if k in t:
                    out[k] = t[k]
            if "size" in t:
                out["size_by_postfix"] = t["size"]
            if t["_reply"]:
                out["final_reply"] = t["_reply"]
            if t["_tls"]:
                out["inside_tls"] = True
            txns.append(out)
        s = {"client": client, "server": server, "leg": spec["leg"],
             "helo": a.helo, "transactions": txns,
             "greeting": a.greeting,
             "tls": a.tls_started(fmt in ("swaks", "msmtp", "events"))}
        if a.helo_reply is not None:
            s["helo_reply_code"] = a.helo_reply
        if a.starttls is not None:
            s["starttls_reply_code"] = a.starttls
        if a.auth:
            s["auth"] = a.auth
        if spec.get("note"):
            s["note"] = spec["note"]
        if spec.get("nat"):
            s["address_translation"] = spec["nat"]
        if spec.get("proxy"):
            px = dict(spec["proxy"])
            if handshake is not None:
                px["handshake_by_client"] = handshake
            outside = [facts[x["queue_id"]]["client"] for x in txns
                       if x.get("queue_id") in facts and facts[x["queue_id"]].get("client")]
            if outside:
                px["proxy_to_server_client"] = outside[0]
            s["proxy"] = px
        if spec.get("visible") is False:
            s["in_capture"] = False
        if spec.get("made_by"):
            s["made_by"] = spec["made_by"]
        if spec.get("extra"):
            s.update(spec["extra"])
        if spec.get("implicit_tls"):
            s["tls"] = True
            s["tls_mode"] = "implicit"
        elif s["tls"] and spec.get("tls_check"):
            s["tls_mode"] = "starttls"
        if spec.get("tls_check"):
            s["commands"] = a.commands
            by_client = None
            if fmt == "msmtp":
                with open(spec["transcript"], errors="replace") as f:
                    by_client = tls_by_msmtp(f.read())
            elif fmt == "smtplib":
                with open(spec["transcript"], errors="replace") as f:
                    by_client = tls_by_smtplib(f.read())
            by_proxy = {r["leg"]: r for r in proxy_log
                        if r.get("event") == "tls" and r.get("conn") == spec.get("conn", 1)}
            if fmt == "proxy" and "server" in by_proxy:
                by_client = dict(by_proxy["server"], by="smtp_middlebox.py (the shield, as TLS client)")
            s["tls_by_client"] = by_client
            if spec["leg"] == "client" and "client" in by_proxy:
                s["tls_by_server"] = dict(by_proxy["client"], by="smtp_middlebox.py (the shield, as TLS server)")
            else:
                s["tls_by_server"] = tls_by_postfix(server_log, client)
            if client and desc.get("pcap"):
                tc = spec["tls_check"]
                try:
                    s["tshark_check"] = tshark_check(desc["pcap"], tc["keys"], client, server,
                                                     tc.get("decode_as", []))
                except (subprocess.CalledProcessError, ET.ParseError) as e:
                    warnings.append(f"tshark check failed: {e}")
        sessions.append(s)

    if logged_ports:
        for s in sessions:
            if s["leg"] in ("direct", "server") and s["client"] and s["client"] not in logged_ports \
                    and s.get("in_capture", True) and "address_translation" not in s:
                warnings.append(f"client {s['client']} not seen in Postfix's connect lines")

    for p in desc.get("client_transcripts", []):
        if p not in transcripts:
            transcripts.append(p)
    text = ""
    for p in transcripts:
        with open(p, errors="replace") as f:
            text += f.read()
    limit = desc.get("transcript_limit", 200000)
    if len(text) > limit:
        text = text[:limit] + f"\n[... transcript cut at {limit} characters ...]\n"
    truth = {"capture": desc["capture"], "made_with": desc["made_with"],
             "scenario": desc["scenario"], "sessions": sessions,
             "client_transcript": text, "server_log": server_log, "proxy_log": proxy_log}
    if desc.get("tunnel_proxy_log") and os.path.exists(desc["tunnel_proxy_log"]):
        with open(desc["tunnel_proxy_log"], errors="replace") as f:
            truth["tunnel_proxy_log"] = [l.rstrip("\n") for l in f if l.strip()]
    for k in ("also_in", "notes"):
        if k in desc:
            truth[k] = desc[k]
    if desc.get("key_log"):
        truth["key_log"] = key_log_summary(desc["key_log"])
    if warnings:
        truth["lab_warnings"] = warnings
    return truth, warnings


def main():
    out_dir = sys.argv[sys.argv.index("--out-dir") + 1] if "--out-dir" in sys.argv else "."
    desc = json.load(sys.stdin)
    truth, warnings = build(desc)
    name = desc["name"]
    path = os.path.join(out_dir, f"{name}.truth.json")
    with open(path, "w") as f:
        json.dump(truth, f, indent=1, ensure_ascii=False)
        f.write("\n")
    for w in warnings:
        print(f"[truth] {name}: warning: {w}", file=sys.stderr)
    n = sum(len(s["transactions"]) for s in truth["sessions"])
    print(f"[truth] wrote {os.path.basename(path)}: {len(truth['sessions'])} session(s), {n} transaction(s)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
