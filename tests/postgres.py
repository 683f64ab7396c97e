"""A private PostgreSQL cluster for tests: initdb in a temporary directory, on a free loopback port."""

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.ports import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run 'make postgres'")
    return found[-1]




class PostgresCluster:
    """A running private cluster; `stop()` and `start()` take it away and bring it back (a database outage)."""

    def __init__(self, directory: Path, port: int, as_user: list[str]) -> None:
        self.directory, self.port, self._as_user = directory, port, as_user
        self.url = f"postgresql+psycopg://tradelane@127.0.0.1:{port}/postgres"

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run([*self._as_user, _bin("pg_ctl"), "-D", str(self.directory / "pgdata"), *args],
                       check=check, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-w", "-l", str(self.directory / "log"), "start")

    def stop(self, check: bool = True) -> None:
        self._ctl("-m", "fast", "-w", "stop", check=check)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Yield a fresh cluster (its SQLAlchemy URL is `.url`); PostgreSQL refuses to run as root, so root runs it as
    `postgres`. The cluster lives in its own directory under the system temp dir (pytest's are private to root).
    """
    directory = Path(tempfile.mkdtemp(prefix="tradelane-pg-"))
    data = directory / "pgdata"
    data.mkdir(parents=True)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, _bin("initdb"), "-D", str(data), "-U", "tradelane", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    cluster = PostgresCluster(directory, free_port(), as_user)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop(check=False)
        shutil.rmtree(directory, ignore_errors=True)
