"""The layout's promise: data flows ingest -> index -> answer; kb's data model is the bottom and
its facade the top; the CLI and the service reach the stages only through kb (and the renderers)."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "index", "answer")
ORDER = {"ingest": 0, "index": 1, "answer": 2}  # data flows ingest -> index -> answer
BOTTOM = ("model.py", "reports.py", "errors.py", "config.py", "files.py")  # kb's shared, stage-free modules
MAX_LINES = 400
PACKAGES = ("kb", *STAGES, "serve")


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Absolute module names ``path`` imports (with ``top_level_only``: not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def stage_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PROJECT = {dotted(p): p for pkg in PACKAGES for p in modules(pkg)} | {"cli": ROOT / "cli.py"}


def project_imports(path: Path, **kw) -> set[str]:
    """The project modules ``path`` imports (``from kb.model import Chunk`` -> ``kb.model``)."""
    return {name for name in imports_of(path, **kw) if name in PROJECT}


@pytest.mark.parametrize("path", [p for s in STAGES for p in modules(s)], ids=lambda p: dotted(p))
def test_stages_never_import_the_facade_or_a_later_stage(path):
    stage = stage_of(path)
    for name in imports_of(path):
        top = name.split(".")[0]
        assert not name.startswith("kb.facade") and name != "kb" and not name.startswith("kb.KnowledgeBase"), \
            f"{path} imports {name}"
        assert top not in ("serve", "cli"), f"{path} imports {name}"
        if top in ORDER:
            assert ORDER[top] <= ORDER[stage], f"{path} (stage {stage}) imports later stage {name}"


@pytest.mark.parametrize("name", BOTTOM)
def test_kb_bottom_imports_no_stage(name):
    path = ROOT / "kb" / name
    assert not {n.split(".")[0] for n in imports_of(path)} & {*STAGES, "serve", "cli"}, path
    assert not {n for n in imports_of(path) if n.startswith("kb.facade")}


@pytest.mark.parametrize("name", ["model.py", "reports.py"])
def test_the_data_model_imports_only_the_standard_library(name):
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    imported = {n for n in imports_of(ROOT / "kb" / name) if n != "kb.model" and not n.startswith("kb.model.")}
    foreign = {n.split(".")[0] for n in imported} - stdlib
    assert not foreign, foreign


@pytest.mark.parametrize("path", [ROOT / "cli.py", *modules("serve")], ids=lambda p: dotted(p))
def test_cli_and_service_reach_the_stages_only_through_kb_and_the_renderers(path):
    for name in project_imports(path):
        allowed = name == "kb" or name.startswith(("kb.", "answer.render", "serve"))
        assert allowed, f"{path} imports {name}: go through kb.KnowledgeBase"


@pytest.mark.parametrize("path", [*PROJECT.values()], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_the_size_limit(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path} has {lines} lines; split it (limit {MAX_LINES})"


def test_the_facade_is_wiring_only():
    source = (ROOT / "kb" / "facade.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstrings = {n.body[0].lineno for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(n)}
    doc_lines = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Expr) and n.lineno in docstrings:
            doc_lines.update(range(n.lineno, n.end_lineno + 1))
    code = [line for i, line in enumerate(source.splitlines(), 1)
            if line.strip() and not line.strip().startswith("#") and i not in doc_lines]
    assert len(code) < 200, f"kb/facade.py has {len(code)} lines of code; move the work into a stage"


def test_no_import_cycles_at_module_level():
    graph = {name: {n for n in project_imports(path, top_level_only=True) if n != name}
             for name, path in PROJECT.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("module", ["kb", "cli", *[dotted(p) for s in STAGES for p in modules(s)]])
def test_every_module_imports_on_its_own(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)


def test_import_kb_and_cli_stay_light():
    code = ("import sys, kb, cli; heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'bm25s')"
            " if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
