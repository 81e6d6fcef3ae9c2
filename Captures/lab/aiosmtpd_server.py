#!/usr/bin/env python3
"""An aiosmtpd server for the lab, for what Postfix will not do.

--refuse-ehlo: answers EHLO with 502 through aiosmtpd's handle_EHLO hook, like an
old SMTP-only server; HELO works.
--fake-starttls: offers STARTTLS in the EHLO reply and answers STARTTLS with
'220 2.0.0 Ready to start TLS', but never starts TLS: the dialogue goes on in the
clear.  This is what the capture exported by a TLS-inspecting firewall shows
(the firewall writes the decrypted stream back under the original STARTTLS).
--ntlm: offers AUTH NTLM (MS-SMTPNTLM: an empty 334, the client's NEGOTIATE
message, a CHALLENGE message from the server, the client's AUTHENTICATE
message) and accepts any AUTHENTICATE; the user, domain and workstation it
names are written to stderr as 'ntlm user=... domain=... workstation=...', read
from the message as MS-NLMP 2.2.1.3 lays it out.
Messages are accepted and discarded.  Runs until killed; prints 'ready' on
stderr once listening.
"""
import argparse
import asyncio
import base64
import struct
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, MISSING, syntax


class FakeStartTLS(SMTP):
    """STARTTLS answered with 220, then nothing changes: no handshake, no TLS."""

    @syntax('STARTTLS')
    async def smtp_STARTTLS(self, arg):
        if arg:
            await self.push('501 Syntax: STARTTLS')
            return
        # RFC 3207: the client must start over with EHLO; forget the session state
        self.session.host_name = None
        self.session.extended_smtp = False
        self._set_rset_state()
        self.fake_tls = True            # the next EHLO reply no longer offers STARTTLS
        await self.push('220 2.0.0 Ready to start TLS')


class FakeStartTLSController(Controller):
    def factory(self):
        return FakeStartTLS(self.handler, **self.SMTP_kwargs)


def ntlm_challenge():
    """A CHALLENGE message (MS-NLMP 2.2.1.2): target EXAMPLE, a fixed server challenge."""
    target = "EXAMPLE".encode("utf-16-le")
    # MsvAvNbDomainName, then MsvAvEOL (MS-NLMP 2.2.2.1)
    info = struct.pack("<HH", 2, len(target)) + target + struct.pack("<HH", 0, 0)
    # UNICODE | REQUEST_TARGET | NTLM | ALWAYS_SIGN | TARGET_TYPE_DOMAIN | TARGET_INFO
    flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00010000 | 0x00800000
    offset = 48
    return (b"NTLMSSP\0" + struct.pack("<I", 2)
            + struct.pack("<HHI", len(target), len(target), offset)
            + struct.pack("<I", flags) + bytes.fromhex("0123456789abcdef") + bytes(8)
            + struct.pack("<HHI", len(info), len(info), offset + len(target))
            + target + info)


def ntlm_names(msg):
    """UserName, DomainName and Workstation of an AUTHENTICATE message (MS-NLMP 2.2.1.3)."""
    if len(msg) < 52 or msg[:8] != b"NTLMSSP\0" or struct.unpack_from("<I", msg, 8)[0] != 3:
        return None
    flags = struct.unpack_from("<I", msg, 60)[0] if len(msg) >= 64 else 1

    def field(at):
        length, _, offset = struct.unpack_from("<HHI", msg, at)
        raw = msg[offset:offset + length]
        return raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")
    return field(36), field(28), field(44)


class Handler:
    def __init__(self, refuse_ehlo, fake_starttls=False):
        self.refuse_ehlo = refuse_ehlo
        self.fake_starttls = fake_starttls

    async def auth_NTLM(self, server, args):
        """Only with --ntlm (removed from the class otherwise)."""
        if len(args) > 1:
            negotiate = base64.b64decode(args[1])
        else:
            negotiate = await server.challenge_auth("")
        if negotiate is MISSING:
            return AuthResult(success=False, handled=True)
        authenticate = await server.challenge_auth(ntlm_challenge())
        if authenticate is MISSING:
            return AuthResult(success=False, handled=True)
        names = ntlm_names(authenticate)
        if names is None:
            return AuthResult(success=False)
        print("ntlm user=%s domain=%s workstation=%s" % names, file=sys.stderr, flush=True)
        return AuthResult(success=True, auth_data=names[0])

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.refuse_ehlo:
            return ["502 5.5.2 Error: command not recognized"]
        session.host_name = hostname
        if self.fake_starttls and not getattr(server, "fake_tls", False):
            responses.insert(len(responses) - 1, "250-STARTTLS")
        return responses

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: discarded"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--refuse-ehlo", action="store_true")
    p.add_argument("--fake-starttls", action="store_true")
    p.add_argument("--ntlm", action="store_true")
    a = p.parse_args()
    cls = FakeStartTLSController if a.fake_starttls else Controller
    if not a.ntlm:
        del Handler.auth_NTLM
    c = cls(Handler(a.refuse_ehlo, a.fake_starttls), hostname=a.host, port=a.port, server_hostname="mx2.example.org",
            auth_require_tls=False, auth_exclude_mechanism=["LOGIN", "PLAIN"])
    c.start()
    print("ready", file=sys.stderr, flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == "__main__":
    main()
