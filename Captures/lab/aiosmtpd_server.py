#!/usr/bin/env python3
"""An aiosmtpd server for the lab, for what Postfix will not do.

--refuse-ehlo: answers EHLO with 502 through aiosmtpd's handle_EHLO hook, like an
old SMTP-only server; HELO works.  Messages are accepted and discarded.  Runs
until killed; prints 'ready' on stderr once listening.
"""
import argparse
import asyncio
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, refuse_ehlo):
        self.refuse_ehlo = refuse_ehlo

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self.refuse_ehlo:
            return ["502 5.5.2 Error: command not recognized"]
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: discarded"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--refuse-ehlo", action="store_true")
    a = p.parse_args()
    c = Controller(Handler(a.refuse_ehlo), hostname=a.host, port=a.port, server_hostname="mx2.example.org")
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
