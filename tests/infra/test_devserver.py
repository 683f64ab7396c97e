"""The launcher: binary lookup order, and search attributes added to an existing database."""

import os
import stat
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devstack.devserver import find_cli, missing_search_attributes, start_dev_server
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


def test_path_before_go_bin(tmp_path, monkeypatch):
    fake = tmp_path / "temporal"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.delenv("TEMPORAL_CLI_PATH", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert find_cli() == str(fake)


@pytest.mark.temporal
async def test_existing_database_gets_missing_search_attributes(tmp_path: Path):
    db = tmp_path / "old.db"
    cli = find_cli()
    # A database made by a server that registered none of Tradelane's attributes, as an older version would.
    old = await WorkflowEnvironment.start_local(dev_server_existing_path=cli, dev_server_database_filename=str(db))
    assert len(await missing_search_attributes(old.client, "default")) == len(SEARCH_ATTRIBUTES)
    await old.shutdown()

    server = await start_dev_server(db_file=db, cli_path=cli)
    try:
        assert await missing_search_attributes(server.client, "default") == []
    finally:
        await server.stop()
