"""A private PostgreSQL cluster for tests: initdb in a temporary directory, on a free loopback port."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run 'make postgres'")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh cluster; PostgreSQL refuses to run as root, so root runs it as `postgres`.

    The cluster lives in its own directory under the system temp dir (pytest's are private to root).
    """
    directory = Path(tempfile.mkdtemp(prefix="tradelane-pg-"))
    data = directory / "pgdata"
    data.mkdir(parents=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_user, _bin("initdb"), "-D", str(data), "-U", "tradelane", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(directory / "log"),
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://tradelane@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
