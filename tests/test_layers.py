"""Imports point down: every Tradelane module imports its own layer or lower ones, and modules import no cycle.

The layers, lowest first, are the table `LAYERS`. A module may import from its own layer or any lower one, except
that packages sharing a layer are independent services unless `SAME_LAYER_ALLOWED` lists the pair. Every import
counts for the layers: module level, inside functions, `from x import y`, relative imports and
`importlib.import_module("...")` with a literal name. Cycles are looked for among module-level imports only (those
run when the module is imported), `if TYPE_CHECKING:` blocks included, since a type-only cycle still ties two modules'
designs together.

No Temporal and no imports of the code under test: the checker reads the files with `ast`.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Layer:
    rank: int
    """Lower ranks are lower layers; a module imports its own rank or lower ones."""
    packages: tuple[str, ...]
    """Dotted module prefixes, each one component (a package or a top-level module) of this layer."""


LAYERS: dict[str, Layer] = {
    "domain": Layer(1, ("tradelane",)),
    "platform": Layer(2, ("infra.platform", "infra")),  # `infra/__init__.py` is a docstring only
    "persistence": Layer(3, ("infra.persistence",)),
    "activities": Layer(4, ("activities",)),
    "workflows": Layer(5, ("workflows",)),
    "services": Layer(6, ("worker", "starter", "sandbox")),
    "stack": Layer(7, ("devstack",)),
    "harnesses": Layer(8, ("bench", "reliability")),
}

SAME_LAYER_ALLOWED: frozenset[tuple[str, str]] = frozenset({
    # The benchmark drives the stack as the reliability run does and reuses its process helpers; the reliability
    # run needs nothing of the benchmark.
    ("bench", "reliability"),
})
"""(importer, imported) component pairs of one layer that may import each other in that direction."""


@dataclass(frozen=True)
class Import:
    file: str
    """Path of the importing file, relative to the checked root."""
    line: int
    importer: str
    """Dotted name of the importing module."""
    imported: str
    """Dotted name of the imported Tradelane module (a submodule when `from pkg import submodule`)."""
    module_level: bool
    """Runs when the importing module is imported (not inside a function)."""


@dataclass(frozen=True)
class Violation:
    imp: Import
    reason: str

    def __str__(self) -> str:
        return f"{self.imp.file}:{self.imp.line} imports {self.imp.imported}: {self.reason}"


class Architecture:
    """The layer table resolved for lookups: which component and layer a dotted module name belongs to."""

    def __init__(self, layers: dict[str, Layer], same_layer_allowed: frozenset[tuple[str, str]]) -> None:
        self.component_layer = {pkg: name for name, layer in layers.items() for pkg in layer.packages}
        self.layers = layers
        self.same_layer_allowed = same_layer_allowed

    def component(self, module: str) -> str | None:
        """The longest prefix of `module` in the table (`infra.persistence.db` -> `infra.persistence`)."""
        parts = module.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self.component_layer:
                return prefix
        return None

    def layer(self, component: str) -> tuple[str, int]:
        name = self.component_layer[component]
        return name, self.layers[name].rank

    def files(self, root: Path) -> dict[str, Path]:
        """Every module of the table's packages under `root`, by dotted name."""
        modules: dict[str, Path] = {}
        for component in self.component_layer:
            base = root.joinpath(*component.split("."))
            if base.with_suffix(".py").is_file():
                modules[component] = base.with_suffix(".py")
            for path in sorted(base.rglob("*.py")) if base.is_dir() else ():
                parts = path.relative_to(root).with_suffix("").parts
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        return modules

    def check_import(self, imp: Import) -> Violation | None:
        source, target = self.component(imp.importer), self.component(imp.imported)
        assert source is not None and target is not None
        (source_layer, source_rank), (target_layer, target_rank) = self.layer(source), self.layer(target)
        if source == target or target_rank < source_rank:
            return None
        if target_rank > source_rank:
            return Violation(imp, f"upward, from layer {source_rank} {source_layer} ({source}) "
                                  f"to layer {target_rank} {target_layer} ({target})")
        if source_layer == target_layer and (source, target) not in self.same_layer_allowed \
                and not _nested(source, target):
            return Violation(imp, f"sideways between the {source_layer} {source} and {target} "
                                  f"(layer {source_rank} packages are independent)")
        return None


def _nested(source: str, target: str) -> bool:
    """`infra` and `infra.platform` are one component written two ways."""
    return source.startswith(target + ".") or target.startswith(source + ".")


# --- reading imports -----------------------------------------------------------------------------------------------


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve_relative(module: str, path: Path, level: int, name: str | None) -> str:
    package = _package_of(module, path).split(".")
    base = package[:len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([name] if name else [])])


def _import_module_literal(node: ast.Call) -> str | None:
    """`importlib.import_module("x.y")` or `import_module("x.y")` with a literal name."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called != "import_module" or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _imported_names(node: ast.AST, module: str, path: Path, known: set[str]) -> list[str]:
    """The dotted modules one statement or call imports; `from pkg import sub` names `pkg.sub` when it is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _resolve_relative(module, path, node.level, node.module) if node.level else node.module or ""
        names = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
        return names if len(names) == len(node.names) else [base, *names]
    if isinstance(node, ast.Call) and (literal := _import_module_literal(node)):
        return [literal]
    return []


def _walk(tree: ast.AST):
    """Yield (node, module_level) for every node, module_level False under a function or lambda."""
    stack: list[tuple[ast.AST, bool]] = [(tree, True)]
    while stack:
        node, module_level = stack.pop()
        yield node, module_level
        inner = module_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def read_imports(root: Path, arch: Architecture) -> list[Import]:
    """Every import of a Tradelane module by a Tradelane module under `root`."""
    modules = arch.files(root)
    known = set(modules)
    found: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, module_level in _walk(tree):
            for imported in _imported_names(node, module, path, known):
                if arch.component(imported) is not None:
                    found.append(Import(str(path.relative_to(root)), node.lineno, module, imported, module_level))
    return sorted(found, key=lambda i: (i.file, i.line, i.imported))


# --- the checks ----------------------------------------------------------------------------------------------------


def layer_violations(imports: list[Import], arch: Architecture) -> list[Violation]:
    return [v for imp in imports if (v := arch.check_import(imp)) is not None]


def find_cycle(imports: list[Import]) -> list[Import] | None:
    """One cycle of module-level imports as the imports along it, or None (an iterative depth-first search)."""
    edges: dict[str, list[Import]] = {}
    for imp in imports:
        if imp.module_level and imp.imported != imp.importer:
            edges.setdefault(imp.importer, []).append(imp)
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    for start in sorted(edges):
        if start in state:
            continue
        path: list[Import] = []
        stack = [(start, iter(edges.get(start, ())))]
        state[start] = "open"
        while stack:
            node, pending = stack[-1]
            imp = next(pending, None)
            if imp is None:
                state[node] = "done"
                stack.pop()
                if path:
                    path.pop()
                continue
            if state.get(imp.imported) == "open":
                path.append(imp)
                first = next(i for i, step in enumerate(path) if step.importer == imp.imported)
                return path[first:]
            if imp.imported not in state:
                state[imp.imported] = "open"
                path.append(imp)
                stack.append((imp.imported, iter(edges.get(imp.imported, ()))))
    return None


def describe_cycle(cycle: list[Import]) -> str:
    return " -> ".join([cycle[0].importer, *(f"{step.imported} ({step.file}:{step.line})" for step in cycle)])


# --- the tree ------------------------------------------------------------------------------------------------------

ARCHITECTURE = Architecture(LAYERS, SAME_LAYER_ALLOWED)


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return read_imports(ROOT, ARCHITECTURE)


def test_every_layered_package_is_found(imports):
    files = ARCHITECTURE.files(ROOT)
    for layer in LAYERS.values():
        for package in layer.packages:
            assert package in files, f"{package} is in the layer table but not under {ROOT}"
    assert len(imports) > 100, "the checker found suspiciously few imports"


def test_imports_point_down(imports):
    violations = layer_violations(imports, ARCHITECTURE)
    assert not violations, "imports against the layers:\n" + "\n".join(map(str, violations))


def test_no_import_cycle(imports):
    cycle = find_cycle(imports)
    assert cycle is None, f"module-level import cycle: {describe_cycle(cycle)}"


@pytest.mark.parametrize(("importer", "imported", "allowed"), [
    ("infra.persistence.db", "tradelane.models", True),
    ("infra.persistence.db", "infra.platform.settings", True),
    ("infra.platform.settings", "infra.persistence.db", False),
    ("activities.carriers", "workflows.shipment", False),
    ("workflows.tracking", "activities.carriers", True),
    ("worker", "workflows.tracking", True),
    ("starter.cli", "worker", False),
    ("sandbox.app", "starter.api", False),
    ("worker", "sandbox.app", False),
    ("sandbox.app", "devstack.up", False),
    ("devstack.up", "sandbox.app", True),
    ("bench.stack", "reliability.processes", True),
    ("reliability.processes", "bench.stack", False),
], ids=["persistence on domain", "persistence on platform", "platform on persistence", "activity on workflow",
        "workflow on activity", "worker on workflow", "API/CLI on worker", "sandbox on API", "worker on sandbox",
        "sandbox on the stack", "stack on sandbox", "bench on reliability", "reliability on bench"])
def test_the_rules(importer, imported, allowed):
    imp = Import("x.py", 1, importer, imported, module_level=True)
    assert (ARCHITECTURE.check_import(imp) is None) == allowed


# --- the checker itself --------------------------------------------------------------------------------------------

SYNTHETIC = {
    "low/__init__.py": "",
    "low/a.py": "import low.b\n",
    "low/b.py": "from low import a\n\ndef later():\n    import high.x\n",
    "high/__init__.py": "",
    "high/x.py": "from ..low.a import thing\nfrom . import y\n",
    "high/y.py": "import importlib\nimportlib.import_module('low.a')\n",
    "side1.py": "def f():\n    from side2 import g\n",
    "side2.py": "import low\n",
}
SYNTHETIC_LAYERS = {"low": Layer(1, ("low",)), "high": Layer(2, ("high",)), "side": Layer(3, ("side1", "side2"))}


@pytest.fixture
def synthetic(tmp_path) -> tuple[Architecture, list[Import]]:
    for name, text in SYNTHETIC.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    arch = Architecture(SYNTHETIC_LAYERS, frozenset())
    return arch, read_imports(tmp_path, arch)


def test_the_checker_reads_every_kind_of_import(synthetic):
    _, imports = synthetic
    assert {(i.file, i.line, i.imported, i.module_level) for i in imports} == {
        ("low/a.py", 1, "low.b", True),
        ("low/b.py", 1, "low.a", True),
        ("low/b.py", 4, "high.x", False),
        ("high/x.py", 1, "low.a", True),  # relative, two levels up
        ("high/x.py", 2, "high.y", True),
        ("high/y.py", 2, "low.a", True),
        ("side1.py", 2, "side2", False),
        ("side2.py", 1, "low", True),
    }


def test_the_checker_reports_upward_and_sideways_imports(synthetic):
    arch, imports = synthetic
    assert [str(v) for v in layer_violations(imports, arch)] == [
        "low/b.py:4 imports high.x: upward, from layer 1 low (low) to layer 2 high (high)",
        "side1.py:2 imports side2: sideways between the side side1 and side2 (layer 3 packages are independent)",
    ]


def test_the_checker_reports_a_cycle(synthetic):
    _, imports = synthetic
    cycle = find_cycle(imports)
    assert cycle is not None
    assert describe_cycle(cycle) == "low.a -> low.b (low/a.py:1) -> low.a (low/b.py:1)"


def test_a_function_level_import_makes_no_cycle(synthetic):
    _, imports = synthetic
    assert find_cycle([i for i in imports if i.importer != "low.a"]) is None
