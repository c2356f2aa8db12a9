"""A real SMTP server for Flare's tests: aiosmtpd (installed by scripts/test) on 127.0.0.1.

Prints {"port": N} once it listens, then one JSON line per message it accepts: the envelope,
the headers the tests read, and the decoded text and HTML parts. Options make it behave like
a relay having a bad day:
  --refuse-first N   answer the first N messages' DATA with 451 (try later)
  --reject ADDRESS   answer RCPT TO:<ADDRESS> with 550 (no such user)
It exits when its stdin closes, so it never outlives the test that started it.
"""

import argparse
import asyncio
import email
import json
import sys
from email import policy

from aiosmtpd.smtp import SMTP

HEADERS = [
    "From", "To", "Subject", "Message-ID", "In-Reply-To", "References",
    "Auto-Submitted", "X-Auto-Response-Suppress",
]


class Sink:
    def __init__(self, refuse_first, reject):
        self.refuse = refuse_first
        self.reject = {a.lower() for a in reject}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        part = lambda kind: (msg.get_body((kind,)) or None)
        text, html = part("plain"), part("html")
        out = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {h: str(msg[h]) for h in HEADERS if msg[h] is not None},
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        }
        print(json.dumps(out), flush=True)
        return "250 2.0.0 Message accepted"


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--refuse-first", type=int, default=0)
    p.add_argument("--reject", action="append", default=[])
    args = p.parse_args()
    handler = Sink(args.refuse_first, args.reject)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="flare-test-smtp"), "127.0.0.1", 0
    )
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    # Stops when the test closes stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


asyncio.run(main())
