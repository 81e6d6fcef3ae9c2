#!/usr/bin/env python3
"""An intercepting SMTP proxy that models the middleboxes found on real networks.

It runs in the lab's middlebox namespace.  nftables redirects the client's
connections to port 25 to this proxy, which opens its own connection to the
original destination (the "server leg").  The client does not know it is there.

Modes (--mode):
  store-and-forward   anti-virus scanner on the client host: relays greeting,
                      EHLO, MAIL and RCPT; answers the client's DATA itself with
                      its own 354, reads the whole message and answers 250
                      itself, answers QUIT with its own 221.  Meanwhile the
                      server leg gets RSET (twice) instead of DATA and NOOP
                      keep-alives; after --hold seconds the proxy replays MAIL,
                      RCPT, DATA and the message on the server leg, then QUIT.
  inline-rewriter     SMTP-inspecting firewall: rewrites bytes in place and keeps
                      every line's length: the banner text becomes asterisks,
                      '250-STARTTLS' becomes '250-XXXXXXXA', a command outside the
                      allowed set is overwritten with 'X' (the server then answers
                      500/502).  Otherwise relays as it reads.
  starttls-answered   scanner that cannot scan TLS: answers the client's STARTTLS
                      itself with '500 Unsupported command.' (the server never sees
                      STARTTLS) and replaces the text of the server's 221.
  plain-relay         relays everything verbatim over a new TCP connection.
  reconnect           scanner that retries on a new connection: relays greeting,
                      EHLO, MAIL and RCPT on a first server connection; answers
                      the client's DATA itself with its own 354, reads the whole
                      message and answers 250 itself; sends RSET and QUIT on the
                      first server connection and closes it; answers the client's
                      QUIT with its own 221.  --retry-delay seconds after the first
                      server connection closed, it opens a second one and delivers
                      the message there: the client's EHLO, MAIL, RCPT, DATA and
                      the message replayed, then QUIT.  The client sees one
                      connection, the server two.

  tls-shield          TLS-intercepting mail shield (modelled on Avast/AVG Mail
                      Shield and ESET SSL/TLS filtering): relays greeting and
                      EHLO; the client's STARTTLS is not passed on: the shield
                      sends its own STARTTLS to the server, does TLS there as a
                      client (its own ClientHello, Python's ssl; SNI is the name
                      in the server's greeting, the server certificate is
                      checked against --server-ca), then answers the client's
                      STARTTLS itself with 220 and does TLS with the client using
                      a certificate it issues on the spot with its own root CA
                      (--shield-ca-cert/--shield-ca-key), copying the server
                      certificate's subject and subjectAltName.  After that it
                      relays the decrypted dialogue command by command between
                      the two TLS sessions and adds a footer line to every
                      message body.  Each TLS session's secrets go to an NSS key
                      log (--keylog-client-leg, --keylog-server-leg).

Server leg source address (--source): 'proxy' (the middlebox's own address),
'client' (the client's address, new port: like a proxy running on the client
host), or 'client-port' (the client's address and port: the server leg has the
same addresses and ports as the client leg, like an inline firewall).

Log (--log): JSON lines.  Every line seen or sent on either leg is one record:
  {"t": epoch, "conn": n, "leg": "client"|"server",
   "dir": "from_client"|"to_client"|"from_server"|"to_server",
   "line": "...", "action": "relayed"|"rewritten"|"answered"|"injected"|
   "withheld"|"held"|"replayed"|"consumed", "original": "..." (rewrites)}
Message bodies are one record with "body" instead of "line".  In tls-shield
mode, records of lines that travelled inside TLS have "tls": true, and each
TLS handshake is one record with "event": "tls" (leg, role, version, cipher,
certificates).  Connection
events have "event": accept|server_connected|close.  In reconnect mode, where
one client connection has two server connections, every server-leg record and
event also has "server_conn": 1 or 2.
"""
import argparse
import asyncio
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

SO_ORIGINAL_DST = 80
SERVER_DELAY = 0.0
IP_TRANSPARENT = 19

# commands an SMTP-inspecting firewall lets through in its default policy
ALLOWED = {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "AUTH", "STARTTLS", "BDAT"}

LOG = None


def log(**rec):
    rec = {"t": round(time.time(), 6), **rec}
    LOG.write(json.dumps(rec) + "\n")
    LOG.flush()


def addr(sa):
    return f"[{sa[0]}]:{sa[1]}" if ":" in sa[0] else f"{sa[0]}:{sa[1]}"


class Conn:
    def __init__(self, n, cr, cw, sr, sw):
        self.n = n
        self.cr, self.cw, self.sr, self.sw = cr, cw, sr, sw
        self.data_mode = False
        self.stop_keepalive = False
        self.data_time = time.time()
        self.server_conn = None          # reconnect mode: 1 or 2, the current server connection
        self.tls_legs = set()            # tls-shield mode: legs on which TLS is up

    # -- logging helpers ----------------------------------------------
    def rec(self, d, line, action, **extra):
        leg = "client" if d in ("from_client", "to_client") else "server"
        log(conn=self.n, leg=leg, dir=d, line=line, action=action, **extra, **self._sc(leg), **self._tls(leg))

    def body(self, d, text, action, **extra):
        leg = "client" if d in ("from_client", "to_client") else "server"
        log(conn=self.n, leg=leg, dir=d, body=text, bytes=len(text.encode()), action=action, **extra,
            **self._sc(leg), **self._tls(leg))

    def _tls(self, leg):
        """tls-shield mode: the line travelled inside TLS on that leg."""
        return {"tls": True} if leg in self.tls_legs else {}

    def _sc(self, leg):
        """reconnect mode: which server connection a server-leg record belongs to."""
        return {"server_conn": self.server_conn} if leg == "server" and self.server_conn else {}

    # -- I/O ----------------------------------------------------------
    @staticmethod
    def text(raw):
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def client_line(self):
        raw = await self.cr.readline()
        return raw

    async def to_client(self, line, action, **extra):
        self.cw.write(line.encode() + b"\r\n")
        await self.cw.drain()
        self.rec("to_client", line, action, **extra)

    async def to_server(self, line, action, **extra):
        if SERVER_DELAY:
            await asyncio.sleep(SERVER_DELAY)   # the server is far away (--server-delay)
        self.sw.write(line.encode() + b"\r\n")
        await self.sw.drain()
        self.rec("to_server", line, action, **extra)

    async def server_reply(self, action):
        """Read a complete reply from the server; log each line."""
        lines = []
        while True:
            raw = await self.sr.readline()
            if not raw:
                raise ConnectionError("server closed the connection")
            t = self.text(raw)
            lines.append(t)
            self.rec("from_server", t, action)
            if len(t) < 4 or t[3] != "-":
                return lines

    async def relay_reply(self, rewrite=None):
        """Read one reply from the server and send it to the client in one write."""
        lines = await self.server_reply("relayed")
        out = []
        for ln in lines:
            new = rewrite(ln) if rewrite else ln
            out.append((new, ln))
        self.cw.write(b"".join(n.encode() + b"\r\n" for n, _ in out))
        await self.cw.drain()
        for new, ln in out:
            if new != ln:
                self.rec("to_client", new, "rewritten", original=ln)
            else:
                self.rec("to_client", ln, "relayed")
        return lines

    async def read_body(self, action):
        """Body lines from the client up to the lone '.', as they arrived."""
        body = []
        while True:
            raw = await self.cr.readline()
            if not raw:
                raise ConnectionError("client closed during DATA")
            t = self.text(raw)
            if t == ".":
                break
            body.append(raw)
        text = b"".join(body).decode("utf-8", "replace")
        self.body("from_client", text, action)
        self.rec("from_client", ".", action)
        return body


# ---------------------------------------------------------------------------
# mode: relay as bytes arrive (plain-relay, inline-rewriter)
# ---------------------------------------------------------------------------

def mask_banner(line):
    """'220 mx.example.org ESMTP Postfix' -> '220 ****...' (same length)."""
    if line[:3].isdigit() and len(line) > 4:
        return line[:4] + "*" * (len(line) - 4)
    return line


async def pump_client(c, rewrite):
    """Client -> server.  Whatever one read returns is forwarded in one write."""
    body = []
    buf = b""
    while True:
        chunk = await c.cr.read(65536)
        if not chunk:
            log(conn=c.n, leg="client", event="close", by="client")
            if c.sw.can_write_eof():
                c.sw.write_eof()
            return
        buf += chunk
        out = []
        recs = []
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            raw += b"\n"
            t = c.text(raw)
            if c.data_mode:
                out.append(raw)
                if t == ".":
                    c.data_mode = False
                    text = b"".join(body).decode("utf-8", "replace")
                    recs += [("body", "from_client", text), ("body", "to_server", text),
                             ("line", "from_client", ".", "relayed", {}),
                             ("line", "to_server", ".", "relayed", {})]
                    body = []
                else:
                    body.append(raw)
                continue
            verb = t.split(" ", 1)[0].upper()
            if rewrite and verb not in ALLOWED:
                eol = raw[len(raw.rstrip(b"\r\n")):]
                masked = "X" * len(raw.rstrip(b"\r\n"))
                out.append(masked.encode() + eol)
                recs += [("line", "from_client", t, "rewritten", {"note": "command not in the allowed set"}),
                         ("line", "to_server", masked, "rewritten", {"original": t})]
                continue
            out.append(raw)
            recs += [("line", "from_client", t, "relayed", {}), ("line", "to_server", t, "relayed", {})]
        if out:
            c.sw.write(b"".join(out))
            await c.sw.drain()
        for r in recs:
            if r[0] == "body":
                c.body(r[1], r[2], "relayed")
            else:
                c.rec(r[1], r[2], r[3], **r[4])


async def pump_server(c, rewrite):
    """Server -> client, with the inline rewriter's in-place substitutions."""
    first = True
    buf = b""
    while True:
        chunk = await c.sr.read(65536)
        if not chunk:
            log(conn=c.n, leg="server", event="close", by="server")
            if c.cw.can_write_eof():
                c.cw.write_eof()
            return
        buf += chunk
        out = []
        recs = []
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            raw += b"\n"
            t = c.text(raw)
            recs.append(("from_server", t, "relayed", {}))
            if t.startswith("354"):
                c.data_mode = True
            new = t
            if rewrite:
                if first:
                    new = mask_banner(t)
                elif t[:3] == "250" and t[4:].upper() == "STARTTLS":
                    new = t[:4] + "XXXXXXXA"
            if not (len(t) >= 4 and t[3] == "-"):
                first = False
            eol = raw[len(raw.rstrip(b"\r\n")):]
            out.append(new.encode() + eol)
            if new != t:
                recs.append(("to_client", new, "rewritten", {"original": t}))
            else:
                recs.append(("to_client", t, "relayed", {}))
        if out:
            c.cw.write(b"".join(out))
            await c.cw.drain()
        for r in recs:
            c.rec(r[0], r[1], r[2], **r[3])


async def mode_pumps(c, rewrite):
    await asyncio.gather(pump_client(c, rewrite), pump_server(c, rewrite))


# ---------------------------------------------------------------------------
# mode: command by command (store-and-forward, starttls-answered)
# ---------------------------------------------------------------------------

async def mode_starttls_answered(c, args):
    await c.relay_reply()                        # greeting
    while True:
        raw = await c.client_line()
        if not raw:
            log(conn=c.n, leg="client", event="close", by="client")
            break
        t = c.text(raw)
        verb = t.split(" ", 1)[0].upper()
        c.rec("from_client", t, "relayed" if verb != "STARTTLS" else "withheld")
        if verb == "STARTTLS":
            await c.to_client("500 Unsupported command.", "answered",
                              note="STARTTLS answered by the proxy; not sent to the server")
            continue
        await c.to_server(t, "relayed")
        if verb == "QUIT":
            await c.relay_reply(rewrite=lambda ln: "221 Closing connection. Good bye." if ln.startswith("221") else ln)
            break
        lines = await c.relay_reply()
        if verb == "DATA" and lines[-1].startswith("354"):
            body = await c.read_body("relayed")
            c.sw.write(b"".join(body) + b".\r\n")
            await c.sw.drain()
            c.body("to_server", b"".join(body).decode("utf-8", "replace"), "relayed")
            c.rec("to_server", ".", "relayed")
            await c.relay_reply()


async def mode_store_and_forward(c, args):
    await c.relay_reply()                        # greeting
    mail = None
    rcpts = []
    held = []                                    # (mail, rcpts, body) to replay
    keepalive = None
    while True:
        raw = await c.client_line()
        if not raw:
            log(conn=c.n, leg="client", event="close", by="client")
            break
        t = c.text(raw)
        verb = t.split(" ", 1)[0].upper()
        if verb == "DATA" and mail and rcpts:
            c.rec("from_client", t, "withheld", note="DATA not sent to the server; the proxy answers it")
            await c.to_client("354 Start mail input; end with <CRLF>.<CRLF>", "answered")
            c.data_time = time.time()
            keepalive = asyncio.ensure_future(keep_server_busy(c, args))
            body = await c.read_body("held")
            held.append((mail, rcpts, body))
            await c.to_client("250 2.6.0 Message accepted for delivery", "answered",
                              note="the server has not seen the message yet")
            mail, rcpts = None, []
            continue
        if verb == "QUIT" and held:
            c.rec("from_client", t, "withheld")
            await c.to_client("221 2.0.0 Service closing transmission channel", "answered")
            c.cw.close()
            log(conn=c.n, leg="client", event="close", by="proxy")
            break
        c.rec("from_client", t, "relayed")
        await c.to_server(t, "relayed")
        lines = await c.relay_reply()
        code = lines[-1][:3]
        if verb == "MAIL" and code.startswith("2"):
            mail, rcpts = t, []
        elif verb == "RCPT" and code.startswith("2"):
            rcpts.append(t)
        elif verb in ("RSET", "EHLO", "HELO"):
            mail, rcpts = None, []
        elif verb == "QUIT":
            break

    if held:
        # hold the message until the scan is "done", then replay it
        await asyncio.sleep(max(0.0, args.hold - (time.time() - c.data_time)))
        if keepalive:
            c.stop_keepalive = True
            await keepalive
        for mail, rcpts, body in held:
            await c.to_server(mail, "replayed")
            await c.server_reply("consumed")
            for r in rcpts:
                await c.to_server(r, "replayed")
                await c.server_reply("consumed")
            await c.to_server("DATA", "replayed")
            await c.server_reply("consumed")
            c.sw.write(b"".join(body) + b".\r\n")
            await c.sw.drain()
            c.body("to_server", b"".join(body).decode("utf-8", "replace"), "replayed")
            c.rec("to_server", ".", "replayed")
            await c.server_reply("consumed")
        await c.to_server("QUIT", "injected")
        await c.server_reply("consumed")


async def mode_reconnect(c, args, client_sa, dst):
    c.server_conn = 1
    await c.relay_reply()                        # greeting
    mail = None
    rcpts = []
    helo = None
    held = []                                    # (helo, mail, rcpts, body) to deliver later
    first_closed = None                          # when the first server connection was closed
    while True:
        raw = await c.client_line()
        if not raw:
            log(conn=c.n, leg="client", event="close", by="client")
            break
        t = c.text(raw)
        verb = t.split(" ", 1)[0].upper()
        if first_closed is not None:
            # no server connection now: the proxy answers everything itself
            c.rec("from_client", t, "withheld", note="no server connection; the proxy answers it")
            if verb == "QUIT":
                await c.to_client("221 2.0.0 Service closing transmission channel", "answered")
                c.cw.close()
                log(conn=c.n, leg="client", event="close", by="proxy")
                break
            if verb in ("RSET", "NOOP"):
                await c.to_client("250 2.0.0 OK", "answered")
            else:
                await c.to_client("451 4.3.0 Try again later", "answered")
            continue
        if verb == "DATA" and mail and rcpts:
            c.rec("from_client", t, "withheld", note="DATA not sent to the server; the proxy answers it")
            await c.to_client("354 Start mail input; end with <CRLF>.<CRLF>", "answered")
            body = await c.read_body("held")
            held.append((helo, mail, rcpts, body))
            await c.to_client("250 2.6.0 Message accepted for delivery", "answered",
                              note="the server has not seen the message yet")
            mail, rcpts = None, []
            # give up the first server connection: RSET, QUIT, close
            await c.to_server("RSET", "injected", note="the first server connection is given up")
            await c.server_reply("consumed")
            await c.to_server("QUIT", "injected")
            await c.server_reply("consumed")
            c.sw.close()
            first_closed = time.time()
            log(conn=c.n, leg="server", event="close", by="proxy", server_conn=1)
            continue
        c.rec("from_client", t, "relayed")
        await c.to_server(t, "relayed")
        lines = await c.relay_reply()
        code = lines[-1][:3]
        if verb in ("EHLO", "HELO") and code.startswith("2"):
            helo, mail, rcpts = t, None, []
        elif verb == "MAIL" and code.startswith("2"):
            mail, rcpts = t, []
        elif verb == "RCPT" and code.startswith("2"):
            rcpts.append(t)
        elif verb == "RSET":
            mail, rcpts = None, []
        elif verb == "QUIT":
            break

    if held:
        # a moment later, deliver on a second server connection
        await asyncio.sleep(max(0.0, args.retry_delay - (time.time() - first_closed)))
        s = await open_server_leg(args, client_sa, dst)
        c.sr, c.sw = await asyncio.open_connection(sock=s)
        c.server_conn = 2
        log(conn=c.n, event="server_connected", server_leg_local=addr(s.getsockname()), server=addr(dst),
            source=args.source, server_conn=2)
        await c.server_reply("consumed")         # greeting
        for helo, mail, rcpts, body in held:
            if helo:
                await c.to_server(helo, "replayed")
                await c.server_reply("consumed")
            await c.to_server(mail, "replayed")
            await c.server_reply("consumed")
            for r in rcpts:
                await c.to_server(r, "replayed")
                await c.server_reply("consumed")
            await c.to_server("DATA", "replayed")
            await c.server_reply("consumed")
            c.sw.write(b"".join(body) + b".\r\n")
            await c.sw.drain()
            c.body("to_server", b"".join(body).decode("utf-8", "replace"), "replayed")
            c.rec("to_server", ".", "replayed")
            await c.server_reply("consumed")
        await c.to_server("QUIT", "injected")
        await c.server_reply("consumed")


def cert_names(cert):
    """subject / issuer of a getpeercert() dict as 'CN=..., O=...'."""
    def one(rdns):
        return ", ".join(f"{k}={v}" for rdn in rdns for k, v in rdn)
    return one(cert.get("subject", ())), one(cert.get("issuer", ()))


def mint_leaf(args, server_cert, n):
    """Issue a certificate for the client leg with the shield's own CA, copying
    the server certificate's subject CN and DNS subjectAltNames."""
    cn = next((v for rdn in server_cert.get("subject", ()) for k, v in rdn if k == "commonName"), "localhost")
    sans = [v for k, v in server_cert.get("subjectAltName", ()) if k == "DNS"] or [cn]
    d = args.workdir
    cfg = os.path.join(d, f"leaf-{n}.cnf")
    with open(cfg, "w") as f:
        f.write("[req]\ndistinguished_name = dn\n[dn]\n[ext]\n"
                "basicConstraints = critical, CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "authorityKeyIdentifier = keyid\n"
                "subjectKeyIdentifier = hash\n"
                f"subjectAltName = {', '.join('DNS:' + x for x in sans)}\n")
    csr = os.path.join(d, f"leaf-{n}.csr")
    pem = os.path.join(d, f"leaf-{n}.pem")
    subprocess.run(["openssl", "req", "-new", "-key", args.shield_leaf_key, "-subj", f"/CN={cn}",
                    "-config", cfg, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", args.shield_ca_cert, "-CAkey", args.shield_ca_key,
                    "-set_serial", str(1000 + n), "-days", "30", "-sha256", "-extfile", cfg, "-extensions", "ext",
                    "-out", pem], check=True, capture_output=True)
    with open(pem) as f:
        leaf = f.read()
    with open(args.shield_ca_cert) as f:
        ca = f.read()
    chain = os.path.join(d, f"leaf-{n}-chain.pem")
    with open(chain, "w") as f:
        f.write(leaf + ca)
    return chain, cn, sans


def der_sha256(der):
    return hashlib.sha256(der).hexdigest() if der else None


async def mode_tls_shield(c, args):
    greeting = await c.relay_reply()             # greeting
    words = greeting[0][4:].split()
    server_name = words[0] if words else None    # the name the server announces
    while True:
        raw = await c.client_line()
        if not raw:
            log(conn=c.n, leg="client", event="close", by="client")
            break
        t = c.text(raw)
        verb = t.split(" ", 1)[0].upper()
        if verb == "STARTTLS" and "client" not in c.tls_legs:
            c.rec("from_client", t, "withheld",
                  note="the shield answers STARTTLS itself and does its own STARTTLS on the server leg")
            # 1. TLS with the server, as a client
            await c.to_server("STARTTLS", "injected", note="the shield's own STARTTLS")
            lines = await c.server_reply("consumed")
            if not lines[-1].startswith("220"):
                await c.to_client("454 4.7.0 TLS not available due to temporary reason", "answered")
                continue
            sctx = ssl.create_default_context(cafile=args.server_ca)
            sctx.keylog_filename = args.keylog_server_leg
            await c.sw.start_tls(sctx, server_hostname=server_name)
            so = c.sw.get_extra_info("ssl_object")
            c.tls_legs.add("server")
            scert = so.getpeercert()
            subj, iss = cert_names(scert)
            log(conn=c.n, leg="server", event="tls", role="client", version=so.version(), cipher=so.cipher()[0],
                sni=server_name, peer_cert_subject=subj, peer_cert_issuer=iss,
                peer_cert_sha256=der_sha256(so.getpeercert(binary_form=True)),
                verified_against=os.path.basename(args.server_ca), **c._sc("server"))
            # 2. a certificate for the client leg, issued by the shield's own CA
            chain, cn, sans = mint_leaf(args, scert, c.n)
            cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            cctx.load_cert_chain(chain, args.shield_leaf_key)
            cctx.keylog_filename = args.keylog_client_leg
            sni_seen = []
            cctx.sni_callback = lambda sobj, name, ctx: sni_seen.append(name)
            await c.to_client("220 2.0.0 Ready to start TLS", "answered",
                              note="the shield's own 220; the server's 220 was consumed")
            await c.cw.start_tls(cctx)
            co = c.cw.get_extra_info("ssl_object")
            c.tls_legs.add("client")
            with open(chain) as f:
                leaf_pem = f.read().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
            log(conn=c.n, leg="client", event="tls", role="server", version=co.version(), cipher=co.cipher()[0],
                sni=sni_seen[0] if sni_seen else None,
                own_cert_subject=f"commonName={cn}", own_cert_san=sans,
                own_cert_issuer=args.shield_ca_name,
                own_cert_sha256=der_sha256(ssl.PEM_cert_to_DER_cert(leaf_pem)))
            continue
        c.rec("from_client", t, "relayed")
        await c.to_server(t, "relayed")
        if verb == "QUIT":
            await c.relay_reply()
            break
        lines = await c.relay_reply()
        if verb == "DATA" and lines[-1].startswith("354"):
            body = await c.read_body("relayed")
            footer = [b"\r\n", args.footer.encode() + b"\r\n"]
            if body and not body[-1].endswith(b"\n"):
                body[-1] += b"\r\n"
            out = b"".join(body + footer)
            c.sw.write(out + b".\r\n")
            await c.sw.drain()
            c.body("to_server", out.decode("utf-8", "replace"), "rewritten",
                   note=f"footer added: {args.footer!r}")
            c.rec("to_server", ".", "relayed")
            await c.relay_reply()


async def keep_server_busy(c, args):
    """Server leg while the message is held: RSET, a second RSET, then NOOPs."""
    await c.to_server("RSET", "injected", note="sent instead of DATA")
    await c.server_reply("consumed")
    schedule = [(args.keepalive, "RSET")] + [(args.keepalive, "NOOP")] * 1000
    for delay, cmd in schedule:
        end = time.time() + delay
        while time.time() < end:
            if c.stop_keepalive:
                return
            await asyncio.sleep(0.05)
        if c.stop_keepalive:
            return
        await c.to_server(cmd, "injected", note="keep-alive while the message is held")
        await c.server_reply("consumed")


# ---------------------------------------------------------------------------

async def open_server_leg(args, client_sa, dst):
    fam = socket.AF_INET6 if ":" in dst[0] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.source in ("client", "client-port"):
        s.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        s.bind((client_sa[0], client_sa[1] if args.source == "client-port" else 0))
    s.setblocking(False)
    await asyncio.get_running_loop().sock_connect(s, dst)
    return s


def original_dst(sock):
    d = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, ip = struct.unpack("!2xH4s8x", d)
    return socket.inet_ntoa(ip), port


COUNTER = [0]


async def handle(args, cr, cw):
    COUNTER[0] += 1
    n = COUNTER[0]
    csock = cw.get_extra_info("socket")
    peer = cw.get_extra_info("peername")
    dst = original_dst(csock)
    log(conn=n, event="accept", mode=args.mode, client=addr(peer), original_dst=addr(dst))
    try:
        s = await open_server_leg(args, peer, dst)
        sr, sw = await asyncio.open_connection(sock=s)
        log(conn=n, event="server_connected", server_leg_local=addr(s.getsockname()), server=addr(dst),
            source=args.source, **({"server_conn": 1} if args.mode == "reconnect" else {}))
        c = Conn(n, cr, cw, sr, sw)
        if args.mode == "plain-relay":
            await mode_pumps(c, rewrite=False)
        elif args.mode == "inline-rewriter":
            await mode_pumps(c, rewrite=True)
        elif args.mode == "starttls-answered":
            await mode_starttls_answered(c, args)
        elif args.mode == "store-and-forward":
            await mode_store_and_forward(c, args)
        elif args.mode == "reconnect":
            await mode_reconnect(c, args, peer, dst)
        elif args.mode == "tls-shield":
            await mode_tls_shield(c, args)
        c.sw.close()
        log(conn=n, leg="server", event="close", by="proxy", **c._sc("server"))
    except Exception as e:          # keep serving other connections
        log(conn=n, event="error", error=f"{type(e).__name__}: {e}")
    finally:
        cw.close()


async def main_async(args):
    srv = await asyncio.start_server(lambda r, w: handle(args, r, w), host="0.0.0.0", port=args.port,
                                     reuse_address=True)
    print("proxy ready", file=sys.stderr, flush=True)
    async with srv:
        await srv.serve_forever()


def main():
    global LOG
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", required=True,
                   choices=["store-and-forward", "inline-rewriter", "starttls-answered", "plain-relay",
                            "reconnect", "tls-shield"])
    p.add_argument("--port", type=int, default=10025)
    p.add_argument("--source", default="proxy", choices=["proxy", "client", "client-port"])
    p.add_argument("--hold", type=float, default=4.0, help="store-and-forward: seconds the message is held")
    p.add_argument("--keepalive", type=float, default=1.0, help="store-and-forward: seconds between keep-alives")
    p.add_argument("--retry-delay", type=float, default=1.0,
                   help="reconnect: seconds between closing the first server connection and opening the second")
    p.add_argument("--server-delay", type=float, default=0.0,
                   help="seconds to wait before each line the proxy itself sends to the server, as if the "
                        "server were across a WAN (the proxy sits on the client host)")
    p.add_argument("--shield-ca-cert", help="tls-shield: the shield's root CA certificate (PEM)")
    p.add_argument("--shield-ca-key", help="tls-shield: the root CA's key")
    p.add_argument("--shield-ca-name", default="CN=Lab Mail Shield Root CA",
                   help="tls-shield: the root CA's name, for the log")
    p.add_argument("--shield-leaf-key", help="tls-shield: key of the certificates the shield issues")
    p.add_argument("--server-ca", help="tls-shield: trust anchor for the server's certificate")
    p.add_argument("--keylog-client-leg", help="tls-shield: NSS key log of the client-leg TLS sessions")
    p.add_argument("--keylog-server-leg", help="tls-shield: NSS key log of the server-leg TLS sessions")
    p.add_argument("--footer", default="-- scanned by Lab Mail Shield", help="tls-shield: line added to bodies")
    p.add_argument("--workdir", default=tempfile.gettempdir(), help="tls-shield: where issued certificates go")
    p.add_argument("--log", required=True)
    args = p.parse_args()
    LOG = open(args.log, "w")
    global SERVER_DELAY
    SERVER_DELAY = args.server_delay
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
