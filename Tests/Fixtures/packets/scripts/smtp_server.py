#!/usr/bin/env python3
"""Minimal SMTP sink used to produce the fixture captures.

Runs a real aiosmtpd SMTP state machine with a fixed, neutral banner so the
captured bytes do not depend on the machine's host name.

usage: smtp_server.py PORT ADDR [ADDR ...]
"""
import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    async def handle_DATA(self, server, session, envelope):
        # a short pause so that simultaneous sessions overlap in time
        # (two-interfaces.pcapng then interleaves packets of both interfaces)
        await asyncio.sleep(0.3)
        return "250 OK message accepted"


async def main() -> None:
    port = int(sys.argv[1])
    addrs = sys.argv[2:]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), hostname="mx.example.net", ident="ESMTP"),
        host=addrs, port=port, reuse_address=True)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
