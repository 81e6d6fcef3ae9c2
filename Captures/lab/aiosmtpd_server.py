#!/usr/bin/env python3
"""An aiosmtpd server for the lab, for what Postfix will not do.

--refuse-ehlo: answers EHLO with 502 through aiosmtpd's handle_EHLO hook, like an
old SMTP-only server; HELO works.
--fake-starttls: offers STARTTLS in the EHLO reply and answers STARTTLS with
'220 2.0.0 Ready to start TLS', but never starts TLS: the dialogue goes on in the
clear.  This is what the capture exported by a TLS-inspecting firewall shows
(the firewall writes the decrypted stream back under the original STARTTLS).
Messages are accepted and discarded.  Runs until killed; prints 'ready' on
stderr once listening.
"""
import argparse
import asyncio
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, syntax


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


class Handler:
    def __init__(self, refuse_ehlo, fake_starttls=False):
        self.refuse_ehlo = refuse_ehlo
        self.fake_starttls = fake_starttls

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
    a = p.parse_args()
    cls = FakeStartTLSController if a.fake_starttls else Controller
    c = cls(Handler(a.refuse_ehlo, a.fake_starttls), hostname=a.host, port=a.port, server_hostname="mx2.example.org")
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
