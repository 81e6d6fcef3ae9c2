#!/usr/bin/env python3
"""Send .eml files over TLS with Python's smtplib, writing an NSS key log.

One connection per run: STARTTLS (--tls starttls, smtplib.SMTP + starttls())
or implicit TLS (--tls implicit, smtplib.SMTP_SSL, e.g. port 465).  Every
--eml file is sent from alice@example.net to bob@example.org on that
connection, byte for byte (line ends made CRLF).  The TLS context writes the
session's secrets to --keylog (SSLContext.keylog_filename, NSS key log format).

smtplib's own debug output (stderr) is the transcript, as for smtplib_client.py:
'=== session 1' marks the start of the connection.  Once TLS is up, the client
prints one line '=== tls {...}' with what Python's ssl module reports
(version, cipher, the server certificate's subject and issuer).  A failure is
printed as '=== error: ...' (the exception as Python reports it).

Options that shape the ClientHello: --ciphers (OpenSSL cipher string, TLS 1.2
and below), --max-version / --min-version (TLSv1_2, TLSv1_3), --no-etm (do not
offer Encrypt-then-MAC: SSL_OP_NO_ENCRYPT_THEN_MAC), --cafile (the trust
anchor; the server certificate is verified against it, with the host name).
"""
import argparse
import json
import smtplib
import ssl
import sys

SSL_OP_NO_ENCRYPT_THEN_MAC = 1 << 19       # OpenSSL 3.0 ssl.h


def name_of(rdns):
    return ", ".join("=".join(kv) for rdn in rdns for kv in rdn)


def tls_line(sock, etm_offered):
    cert = sock.getpeercert() or {}
    info = {"version": sock.version(), "cipher": sock.cipher()[0], "cipher_bits": sock.cipher()[2],
            "server_cert_subject": name_of(cert.get("subject", ())),
            "server_cert_issuer": name_of(cert.get("issuer", ())),
            "encrypt_then_mac_offered": etm_offered,
            "openssl": ssl.OPENSSL_VERSION}
    print("=== tls " + json.dumps(info), file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True, help="host name (sent as SNI and checked) or address")
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--helo", default="ws01.example.net")
    p.add_argument("--tls", choices=["starttls", "implicit"], required=True)
    p.add_argument("--keylog", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--ciphers")
    p.add_argument("--max-version", choices=["TLSv1_2", "TLSv1_3"])
    p.add_argument("--min-version", choices=["TLSv1_2", "TLSv1_3"])
    p.add_argument("--no-etm", action="store_true")
    p.add_argument("--eml", action="append", default=[])
    a = p.parse_args()

    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.keylog_filename = a.keylog
    if a.ciphers:
        ctx.set_ciphers(a.ciphers)
    if a.max_version:
        ctx.maximum_version = getattr(ssl.TLSVersion, a.max_version)
    if a.min_version:
        ctx.minimum_version = getattr(ssl.TLSVersion, a.min_version)
    if a.no_etm:
        ctx.options |= SSL_OP_NO_ENCRYPT_THEN_MAC

    print("=== session 1", file=sys.stderr, flush=True)
    s = None
    try:
        if a.tls == "implicit":
            s = smtplib.SMTP_SSL(local_hostname=a.helo, context=ctx)
            s.set_debuglevel(1)
            s._host = a.server          # the name for SNI and the host-name check (connect() does not set it)
            s.connect(a.server, a.port)
            tls_line(s.sock, not a.no_etm)
            s.ehlo(a.helo)
        else:
            s = smtplib.SMTP(local_hostname=a.helo)
            s.set_debuglevel(1)
            s._host = a.server          # the name for SNI and the host-name check (connect() does not set it)
            s.connect(a.server, a.port)
            s.ehlo(a.helo)
            s.starttls(context=ctx)
            tls_line(s.sock, not a.no_etm)
            s.ehlo(a.helo)
        for path in a.eml:
            with open(path, "rb") as f:
                raw = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            s.sendmail("alice@example.net", ["bob@example.org"], raw)
        s.quit()
    except (ssl.SSLError, smtplib.SMTPException, OSError) as e:
        print(f"=== error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        if s is not None:
            s.close()
        sys.exit(1)


if __name__ == "__main__":
    main()
