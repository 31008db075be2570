"""The package's shape: rooms import only downwards, no module imports another in a cycle, and
charting never imports Lightning (chart workers start small and fast)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RANKS = {"base": 0, "data_recipes": 1, "kernels": 1, "preparing": 2, "models": 2, "training": 3,
         "inference": 3, "export": 3, "charting": 4, "evaluation": 4, "annotating": 5, "cli": 6}
"""Each room's level: a module may import its own room and rooms of a lower level only."""
BASE = {"errors", "notes", "schema", "config", "tokenize", "deid", "normalize", "tag_scores",
        "openblas"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("chartlnn", "data_recipes"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _room(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "data_recipes":
        return "data_recipes"
    if len(parts) == 1:
        return "base"
    if parts[1] in BASE:
        return "base"
    if parts[1] in ("cli", "demo"):
        return "cli"
    return parts[1]


def _imports(path: Path, modules: dict[str, Path]) -> dict[str, bool]:
    """Project modules ``path`` imports → whether at module level (else inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found[name] = found.get(name, False) or id(node) in top
    return found


def test_imports_rooms_only_import_downwards():
    modules = _modules()
    wrong = []
    for module, path in modules.items():
        for imported in _imports(path, modules):
            mine, theirs = _room(module), _room(imported)
            if imported == "chartlnn" or mine == theirs:
                continue
            if RANKS[theirs] >= RANKS[mine]:
                wrong.append(f"{module} ({mine}) imports {imported} ({theirs})")
    assert not wrong, "\n".join(wrong)


def test_imports_have_no_cycles():
    modules = _modules()
    graph = {m: {i for i, top in _imports(p, modules).items() if top and i != m and i != "chartlnn"}
             for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " → ".join(path[path.index(nxt):] + [module, nxt]))
            if nxt not in state:
                visit(nxt, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_imports_every_module_alone_in_a_fresh_interpreter():
    names = sorted(_modules())
    script = ("import importlib, sys, subprocess\n"
              "bad = []\n"
              f"for name in {names!r}:\n"
              "    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
              "    if r.returncode: bad.append(name + ': ' + r.stderr.strip().splitlines()[-1])\n"
              "print('\\n'.join(bad))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_imports_charting_never_loads_lightning_nor_torch(liquid_model, tmp_path):
    """A liquid model charts in the numpy runtime where the compiled loop builds: no torch at all."""
    from chartlnn.kernels.scan_library import library

    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"id": "a", "text": "HPI: cough for 3 days. BP 120/80."}) + "\n")
    script = (
        "import sys, chartlnn\n"
        f"model = chartlnn.load({str(liquid_model)!r})\n"
        "model.chart('Chief complaint: cough. Lisinopril 10 mg daily.')\n"
        f"summary = chartlnn.chart({str(liquid_model)!r}, {str(notes)!r}, {str(tmp_path / 'out')!r}, workers=0)\n"
        "assert summary.charted == 1, summary\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')))\n"
        "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lightning, torch_loaded = result.stdout.strip().splitlines()
    assert lightning == "[]"
    assert torch_loaded == str(library() is None)


def test_imports_benchmarks_name_what_the_package_has():
    """Benchmarks are not run by the tests; at least every project name they import must exist."""
    import importlib

    missing = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in (
                    "chartlnn", "data_recipes"):
                module = importlib.import_module(node.module)
                missing += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name)]
    assert not missing, "\n".join(missing)
