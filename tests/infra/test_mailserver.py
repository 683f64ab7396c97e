"""The development SMTP server: a real aiosmtpd server on loopback, a real SMTP client, a real Maildir."""

import mailbox
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from devstack.mailserver import DevMailServer
from devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def letter(message_id: str, subject: str = "Ihre Sendung – unterwegs") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Tradelane <notify@tradelane.test>"
    message["To"] = "kunde@example.de"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("Grüße aus Köln")
    message.add_alternative("<p>Grüße aus Köln</p>", subtype="html")
    return message


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevMailServer]:
    with DevMailServer(tmp_path / "mail", port=0) as server:
        yield server


async def test_stores_what_arrives_with_its_envelope(server):
    await aiosmtplib.send(letter("<a.1@tradelane>"), hostname=server.host, port=server.port, timeout=5)
    [stored] = server.messages()
    assert (stored["Message-ID"], stored["Subject"], stored["X-MailFrom"], stored["X-RcptTo"]) == (
        "<a.1@tradelane>", "Ihre Sendung – unterwegs", "notify@tradelane.test", "kunde@example.de")
    assert stored.get_body(("plain",)).get_content() == "Grüße aus Köln\n"
    assert stored.get_body(("html",)).get_content() == "<p>Grüße aus Köln</p>\n"
    assert len(mailbox.Maildir(server.directory)) == 1


async def test_keeps_duplicates_in_arrival_order(server):
    for n, message_id in enumerate(["<a@t>", "<b@t>", "<a@t>"]):
        await aiosmtplib.send(letter(message_id, subject=f"n{n}"), hostname=server.host, port=server.port,
                              timeout=5)
    assert [(m["Message-ID"], m["Subject"]) for m in server.messages()] == [
        ("<a@t>", "n0"), ("<b@t>", "n1"), ("<a@t>", "n2")]
    server.clear()
    assert server.messages() == []


async def test_a_stopped_server_refuses_connections_and_restarts_on_the_same_port(server):
    server.stop()
    assert not server.running
    with pytest.raises((aiosmtplib.SMTPConnectError, OSError)):
        await aiosmtplib.send(letter("<x@t>"), hostname=server.host, port=server.port, timeout=5)
    server.start()
    await aiosmtplib.send(letter("<y@t>"), hostname=server.host, port=server.port, timeout=5)
    assert [m["Message-ID"] for m in server.messages()] == ["<y@t>"]


async def test_command_line_serves_until_terminated(tmp_path):
    port = free_port()
    directory = tmp_path / "cli-mail"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.mailserver", "--dir", str(directory), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"smtp://127.0.0.1:{port}" in banner
        await aiosmtplib.send(letter("<cli@t>"), hostname="127.0.0.1", port=port, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert [m["Message-ID"] for m in DevMailServer(directory).messages()] == ["<cli@t>"]
