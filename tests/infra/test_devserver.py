"""The launcher: binary lookup order, its version check, and search attributes added to an existing database."""

import os
import stat
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devstack import devserver
from devstack.devserver import (
    TESTED_CLI,
    CliVersion,
    find_cli,
    has_wheel,
    history_marker,
    missing_search_attributes,
    retire_foreign_history,
    start_dev_server,
    version_of,
    version_warning,
)
from workflows.visibility import SEARCH_ATTRIBUTES


def test_explicit_path_wins(tmp_path, monkeypatch):
    fake = tmp_path / "temporal"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("TEMPORAL_CLI_PATH", str(fake))
    assert find_cli() == str(fake)


def test_explicit_path_that_does_not_exist_is_an_error(monkeypatch):
    monkeypatch.setenv("TEMPORAL_CLI_PATH", "/nowhere/temporal")
    with pytest.raises(FileNotFoundError, match="TEMPORAL_CLI_PATH=/nowhere/temporal"):
        find_cli()


def fake_cli(directory: Path, version: str = "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fake = directory / "temporal"
    fake.write_text(f"#!/bin/sh\necho '{version}'\n")
    fake.chmod(0o755)
    return fake


def test_path_before_go_bin(tmp_path, monkeypatch):
    fake = fake_cli(tmp_path / "on-path")
    monkeypatch.delenv("TEMPORAL_CLI_PATH", raising=False)
    monkeypatch.setattr(devserver, "_venv_scripts", lambda: tmp_path / "empty-venv")
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_cli() == str(fake)


def test_the_virtualenv_wheel_before_path(tmp_path, monkeypatch):
    in_venv = fake_cli(tmp_path / "venv-bin")
    on_path = fake_cli(tmp_path / "on-path")
    monkeypatch.delenv("TEMPORAL_CLI_PATH", raising=False)
    monkeypatch.setattr(devserver, "_venv_scripts", lambda: in_venv.parent)
    monkeypatch.setenv("PATH", f"{on_path.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_cli() == str(in_venv)


def test_no_go_build_where_the_wheel_exists(tmp_path, monkeypatch):
    monkeypatch.delenv("TEMPORAL_CLI_PATH", raising=False)
    monkeypatch.setattr(devserver, "_venv_scripts", lambda: tmp_path / "empty-venv")
    monkeypatch.setattr(devserver, "_go_bin_dir", lambda: tmp_path / "empty-go-bin")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setattr(devserver, "has_wheel", lambda: True)
    ran: list[object] = []
    monkeypatch.setattr(devserver.subprocess, "run", lambda *a, **k: ran.append(a))
    assert find_cli() is None
    assert ran == []  # no `go install`


@pytest.mark.parametrize(("system", "machine", "wheel"), [
    ("linux", "x86_64", True), ("linux", "aarch64", True), ("darwin", "arm64", True), ("darwin", "x86_64", True),
    ("win32", "AMD64", False), ("linux", "riscv64", False), ("freebsd14", "amd64", False)])
def test_platforms_with_a_wheel(system, machine, wheel):
    assert has_wheel(system, machine) is wheel


@pytest.mark.parametrize(("text", "expected"), [
    ("temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)\n", CliVersion("1.9.1", "1.32.0", "2.54.1")),
    ("temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)", CliVersion("1.5.1", "1.29.1", "2.42.1")),
    ("temporal version 1.10.0-rc.1 (Server 1.33.0)", CliVersion("1.10.0", "1.33.0", None)),
    ("temporal version 0.13.2", CliVersion("0.13.2")),
    ("command not found", None),
])
def test_the_version_line_is_read(text, expected):
    assert CliVersion.parse(text) == expected


def test_an_older_cli_is_named_in_a_warning(tmp_path):
    old = fake_cli(tmp_path, "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)")
    found = version_of(str(old))
    assert found == CliVersion("1.5.1", "1.29.1", "2.42.1")
    warning = version_warning(str(old), found)
    assert warning is not None
    assert f"{old} is 1.5.1 (Server 1.29.1, UI 2.42.1), older than 1.9.1 (Server 1.32.0, UI 2.54.1)" in warning
    assert "make install" in warning


def test_the_tested_cli_or_a_newer_one_is_quiet(tmp_path):
    assert version_warning("t", TESTED_CLI) is None
    assert version_warning("t", CliVersion("1.10.0", "1.33.0", "2.60.0")) is None
    assert version_warning("t", None) is not None  # a binary that does not say its version is named too


def test_the_cli_this_suite_runs_is_the_tested_one():
    cli = find_cli(build=False)
    assert cli is not None
    assert version_of(cli) == TESTED_CLI


@pytest.mark.temporal
async def test_existing_database_gets_missing_search_attributes(tmp_path: Path):
    db = tmp_path / "old.db"
    cli = find_cli()
    # A database made by a server that registered none of Tradelane's attributes, as an older version would.
    old = await WorkflowEnvironment.start_local(dev_server_existing_path=cli, dev_server_database_filename=str(db))
    assert len(await missing_search_attributes(old.client, "default")) == len(SEARCH_ATTRIBUTES)
    await old.shutdown()
    history_marker(db).write_text(f"{TESTED_CLI.server}\n")  # the same server release wrote it

    server = await start_dev_server(db_file=db, cli_path=cli)
    try:
        assert await missing_search_attributes(server.client, "default") == []
    finally:
        await server.stop()


def history_file(tmp_path: Path, written_by: str | None) -> Path:
    db = tmp_path / "temporal.db"
    db.write_text("history")
    (tmp_path / "temporal.db-wal").write_text("log")
    if written_by is not None:
        history_marker(db).write_text(f"{written_by}\n")
    return db


def test_a_history_file_of_the_same_release_is_kept(tmp_path):
    db = history_file(tmp_path, TESTED_CLI.server)
    assert retire_foreign_history(db, TESTED_CLI.server) is None
    assert db.read_text() == "history"


@pytest.mark.parametrize(("written_by", "aside"), [("1.29.1", "temporal.db.server-1.29.1"),
                                                   (None, "temporal.db.server-1.29.1")])
def test_a_history_file_of_another_release_is_moved_aside_whole(tmp_path, written_by, aside):
    db = history_file(tmp_path, written_by)
    moved = retire_foreign_history(db, "1.32.0")
    assert moved == tmp_path / aside
    assert moved.read_text() == "history" and (tmp_path / f"{aside}-wal").read_text() == "log"
    assert not db.exists() and not (tmp_path / "temporal.db-wal").exists() and not history_marker(db).exists()


def test_an_old_go_built_cli_is_older_by_its_server():
    assert CliVersion("0.0.0", "1.29.1", "2.42.1").older_than(TESTED_CLI)
    assert not CliVersion("0.0.0", "1.33.0").older_than(TESTED_CLI)
