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
from tradelane.rules import DATA_DIR, TABLES, Rule
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
