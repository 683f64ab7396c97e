"""Loading the sandbox config from YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import FaultKind, SandboxConfig, load_config
from sandbox.config import ConfigError


def test_default_config_is_packaged() -> None:
    config = load_config(None)
    assert config == SandboxConfig(seconds_per_day=0.25, timeout_fault_seconds=30, faults=[])


def test_yaml_rules_are_loaded_in_order(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.yaml"
    path.write_text(
        "seconds_per_day: 0.01\n"
        "faults:\n"
        "  - {partner: bluewave, operation: book, kind: error, status: 502, times: 2}\n"
        "  - {kind: outage, window_start_s: 5, window_end_s: 10}\n"
    )
    config = load_config(str(path))
    assert config.seconds_per_day == 0.01
    assert [(r.kind, r.partner, r.times) for r in config.faults] == [
        (FaultKind.ERROR, "bluewave", 2),
        (FaultKind.OUTAGE, "*", None),
    ]


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n")
    assert load_config(str(path)) == SandboxConfig()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("faults:\n  - {kind: error, status: 200}\n", "faults.0.status"),
        ("seconds_per_dya: 1\n", "seconds_per_dya"),
        ("- just a list\n", "expected a mapping"),
        ("faults: [\n", "not valid YAML"),
    ],
)
def test_invalid_config_names_file_and_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(path) in str(err.value) and needle in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "nope.yaml"))
