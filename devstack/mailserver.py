"""A local SMTP server for development: accepts every message and keeps it in a Maildir, nothing leaves the machine.

It records what arrives, duplicates included (dropping them by Message-ID is the recipient's job), so tests and
developers can see exactly what the deliverer sent. Run it with::

    python -m devstack.mailserver --dir .tradelane/mail --port 8025

and read the messages with any Maildir-capable client (e.g. ``mutt -f .tradelane/mail``) or `DevMailServer.messages`.
"""

import argparse
import mailbox
import re
import signal
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from devstack.ports import free_port

_KEY_ORDER = re.compile(r"^(\d+)\.M(\d+)P\d+Q(\d+)\.")
"""Python's Maildir names new files ``<seconds>.M<microseconds>P<pid>Q<counter>.<host>``."""


def _maildir(directory: Path) -> mailbox.Maildir:
    # mailbox creates cur/new/tmp only when the directory itself is missing; an existing empty one needs them too.
    for folder in ("cur", "new", "tmp"):
        (directory / folder).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(directory, create=False)


class _MaildirHandler:
    """aiosmtpd handler storing the raw bytes as received, with the SMTP envelope as trace headers."""

    def __init__(self, directory: Path) -> None:
        self._box = _maildir(directory)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        # The raw bytes, not a re-serialised parse, so the stored message is exactly what the client sent.
        trace = f"X-MailFrom: {envelope.mail_from}\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\n".encode()
        self._box.add(trace + envelope.original_content.replace(b"\r\n", b"\n"))
        return "250 Message accepted for delivery"


def _order(key: str) -> tuple[int, int, int, str]:
    match = _KEY_ORDER.match(key)
    return (int(match[1]), int(match[2]), int(match[3]), key) if match else (0, 0, 0, key)


class DevMailServer:
    """An SMTP server on `host:port` (in a background thread) that stores every message under `directory`.

    Args:
        directory: The Maildir (created with its ``cur``/``new``/``tmp`` folders when missing).
        host: Interface to listen on; loopback by default, since it accepts mail from anyone.
        port: TCP port; 0 picks a free one (read `port` after construction).
    """

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port or free_port()  # aiosmtpd needs a concrete port to check that it started
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._controller is not None

    def start(self) -> "DevMailServer":
        """Start listening; returns once the server answers. Starting a running server changes nothing."""
        if self._controller is None:
            # A Controller owns an event loop that it closes on stop, so every start gets a new one.
            controller = Controller(_MaildirHandler(self.directory), hostname=self.host, port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening (the stored messages stay). Stopping a stopped server changes nothing."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        """Every stored message, in the order they arrived."""
        box = _maildir(self.directory)
        parser = BytesParser(policy=policy.default)
        found: list[EmailMessage] = []
        for key in sorted(box.keys(), key=_order):
            with box.get_file(key) as stream:
                message = parser.parse(stream)
            assert isinstance(message, EmailMessage)  # guaranteed by policy.default
            found.append(message)
        return found

    def clear(self) -> None:
        """Delete every stored message."""
        _maildir(self.directory).clear()

    def __enter__(self) -> "DevMailServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m devstack.mailserver", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".tradelane/mail"), help="Maildir to store messages in")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8025, help="TCP port")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with DevMailServer(args.dir, args.host, args.port) as server:
        print(f"dev mail server on smtp://{server.host}:{server.port}, storing in {server.directory}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
