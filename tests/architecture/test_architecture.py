"""The package's layout rules (docs/ARCHITECTURE.md), checked on every import it makes."""

from __future__ import annotations

import ast
from pathlib import Path

import cfgtrack

PACKAGE = Path(cfgtrack.__file__).parent
MAX_LINES = 420
PRIVATE_ADAPTERS = {
    "hydra": {"config/compose.py", "config/hydra_sources.py", "record/decorator.py"},
    "omegaconf": {"config/yaml_files.py"},
    "mlflow": {"tracking/mlflow_adapter.py"},
}
MLFLOW_INTERNALS = (
    "mlflow.utils",
    "mlflow.store",
    "mlflow.tracking.fluent",
    "mlflow.tracking.context",
)
PRESENTATION = ("render", "cli")
# Allowed imports between top-level parts: a part may import itself and what its entry lists.
ALLOWED = {
    "cli": {"verbs", "render", "record", "compare", "ages", "tracking", "config", "git", "redact"},
    "verbs": {"render", "record", "compare", "ages", "tracking", "config", "git", "redact"},
    "render": {"record", "compare", "ages", "tracking", "config", "git", "redact"},
    "record": {"compare", "tracking", "config", "git", "redact"},
    "ages": {"compare", "tracking", "config", "git", "redact"},
    "compare": {"tracking", "config", "git", "redact"},
    "tracking": {"config", "redact"},
    "config": {"git"},
    "git": set(),
    "redact": {"config"},
}
SHARED = {"settings", "errors", "progress", "__init__", "__main__"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("cfgtrack", *parts)).removesuffix(".__init__")
        found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names imported, line) for every import outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(inner) for child in node.body for inner in ast.walk(child))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _internal_targets(module: str, names: list[str], known: dict[str, Path]) -> list[str]:
    targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in known]
    return targets or ([module] if module in known else [])


def test_parts_import_only_downwards():
    known = _modules()
    wrong = []
    for name, path in known.items():
        part = _part(name)
        for module, names, line in _imports(name, path):
            if not module.startswith("cfgtrack"):
                continue
            for target in _internal_targets(module, names, known):
                other = _part(target)
                if other == part or other in SHARED or part in SHARED:
                    continue
                if other not in ALLOWED.get(part, set()):
                    wrong.append(f"{path.relative_to(PACKAGE)}:{line} {part} -> {target}")
    assert wrong == []


def test_no_import_cycles():
    known = _modules()
    graph = {
        name: {
            target
            for module, names, _ in _imports(name, path)
            if module.startswith("cfgtrack")
            for target in _internal_targets(module, names, known)
            if target != name and target != "cfgtrack"
        }
        for name, path in known.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_only_render_and_cli_use_typer_or_rich():
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module}"
        for name, path in _modules().items()
        if _part(name) not in PRESENTATION
        for module, _, line in _imports(name, path)
        if module.split(".")[0] in ("typer", "rich", "click")
    ]
    assert wrong == []


def test_private_library_apis_stay_in_their_adapters():
    wrong = []
    for name, path in _modules().items():
        relative = path.relative_to(PACKAGE).as_posix()
        for module, names, line in _imports(name, path):
            library = module.split(".")[0]
            if library not in PRIVATE_ADAPTERS:
                continue
            private = any(segment.startswith("_") for segment in module.split(".")) or any(
                n.startswith("_") for n in names
            )
            private = private or (library == "mlflow" and module.startswith(MLFLOW_INTERNALS))
            if private and relative not in PRIVATE_ADAPTERS[library]:
                wrong.append(f"{relative}:{line} {module} {names}")
    assert wrong == []


def test_modules_stay_small():
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_only_the_git_folder_talks_to_git():
    """GitPython and git subprocesses live in ``git/``; every other part asks it."""
    wrong = []
    for name, path in _modules().items():
        if _part(name) == "git":
            continue
        relative = path.relative_to(PACKAGE).as_posix()
        wrong += [
            f"{relative}:{line} imports GitPython"
            for module, _, line in _imports(name, path)
            if module.split(".")[0] == "git"
        ]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.List) and node.elts:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and first.value == "git":
                    wrong.append(f"{relative}:{node.lineno} runs git itself")
    assert wrong == []
