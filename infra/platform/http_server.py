"""Run ASGI apps (API, sandbox) as tasks inside an asyncio program, on loopback or any host."""

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class _EmbeddedServer(uvicorn.Server):
    # The owning program handles Ctrl-C once for every component; uvicorn must not grab the signals itself.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ServedApp:
    """An app served by uvicorn in the current event loop; `port=0` picks a free port."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = host, self._sock.getsockname()[1]
        # proxy_headers=False: uvicorn would believe X-Forwarded-For from any loopback peer; which proxies are
        # trusted is Tradelane's setting (TRADELANE_TRUSTED_PROXIES, starter/ratelimit.py), not the server's.
        self._server = _EmbeddedServer(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                                      proxy_headers=False))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> "ServedApp":
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._sock.close()
