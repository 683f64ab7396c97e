"""The rule registry: every rule file has one row model and every model a file, listed whatever was imported first."""

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import tradelane.rules.schemas
from tradelane.rules import DATA_DIR, TABLES, Rule, RuleDataError, load_table
from tradelane.rules.base import REQUIRED_KEYS
from tradelane.rules.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted(path.stem for path in DATA_DIR.glob("*.yaml"))


def test_every_rule_file_has_exactly_one_model_and_every_model_a_file():
    assert sorted(TABLES) == RULE_FILES
    assert len(MODELS) == len(set(MODELS)) == len(TABLES), "a model listed twice, or two models for one table"


@pytest.mark.parametrize("name", RULE_FILES)
def test_the_model_of_a_file_reads_the_table_the_file_names(name):
    document = yaml.safe_load((DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert document.get("table", name) == name
    assert TABLES[name].table_name == name


def test_every_row_model_in_the_schemas_is_registered():
    defined = set()
    for info in pkgutil.iter_modules(tradelane.rules.schemas.__path__, "tradelane.rules.schemas."):
        module = importlib.import_module(info.name)
        defined |= {obj for _, obj in inspect.getmembers(module, inspect.isclass)
                    if issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__}
    assert defined == set(MODELS)


# Run in a fresh interpreter: this test process has imported every decision module by now.
LOAD_ALL = """
import json, sys
{first}
from tradelane.rules import RuleBook
counts = RuleBook().load_all()
print(json.dumps({{"counts": counts, "modules": sorted(m for m in sys.modules if m.startswith("tradelane."))}}))
"""


@pytest.mark.parametrize("first", ["", "import tradelane.decisions.assess, tradelane.eta"],
                         ids=["rules-alone", "decisions-first"])
def test_load_all_loads_every_table_whatever_was_imported_first(first):
    run = subprocess.run([sys.executable, "-c", LOAD_ALL.format(first=first)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert sorted(result["counts"]) == RULE_FILES
    assert all(rows > 0 for rows in result["counts"].values()), result["counts"]
    if not first:
        # The schemas need the shared data models only, no decision module.
        computation = [m for m in result["modules"] if m.startswith(("tradelane.decisions.", "tradelane.eta"))
                       and m != "tradelane.decisions.models"]
        assert computation == []


# ---- every row states source, valid_from, valid_to and status (issue 21, "must hold") ----

ROW = {"table": "volumetric_divisors", "defaults": {},
       "rules": [{"mode": "air_freight", "divisor_cm3_per_kg": 6000, "source": "IATA volumetric standard",
                  "valid_from": "2020-01-01", "valid_to": None, "status": "sourced"}]}


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_rule_rows_without_a_required_key_are_refused(tmp_path, key):
    document = json.loads(json.dumps(ROW))
    del document["rules"][0][key]
    path = tmp_path / "volumetric_divisors.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(RuleDataError, match=rf"volumetric_divisors.yaml: rules.0: {key} missing"):
        load_table(path, TABLES["volumetric_divisors"])


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_rule_rows_may_state_a_required_key_in_the_file_defaults(tmp_path, key):
    document = json.loads(json.dumps(ROW))
    document["defaults"][key] = document["rules"][0].pop(key)
    path = tmp_path / "volumetric_divisors.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert len(load_table(path, TABLES["volumetric_divisors"])) == 1


@pytest.mark.parametrize("name", sorted(RULE_FILES))
def test_rule_rows_of_every_packaged_table_state_source_validity_and_status(name):
    document = yaml.safe_load((DATA_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    defaults = document.get("defaults") or {}
    for i, row in enumerate(document["rules"]):
        missing = [key for key in REQUIRED_KEYS if key not in {**defaults, **row}]
        assert not missing, f"{name}.yaml rules.{i}: {missing} missing"
