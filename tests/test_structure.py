"""The layout's promise: stages depend on kb's data model, only the facade depends on stages."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "index", "answer")
ORDER = {"ingest": 0, "index": 1, "answer": 2}  # data flows ingest -> index -> answer


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def stage_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", [p for s in STAGES for p in modules(s)], ids=lambda p: dotted(p))
def test_stages_never_import_the_facade_or_a_later_stage(path):
    stage = stage_of(path)
    for name in imports_of(path):
        top = name.split(".")[0]
        assert name != "kb.facade" and name != "kb", f"{path} imports {name}"
        if top in ORDER:
            assert ORDER[top] <= ORDER[stage], f"{path} (stage {stage}) imports later stage {name}"


@pytest.mark.parametrize("path", modules("kb"), ids=lambda p: p.name)
def test_kb_data_model_imports_no_stage(path):
    if path.name in ("facade.py", "__init__.py"):
        return
    assert not {n.split(".")[0] for n in imports_of(path)} & set(STAGES), path


@pytest.mark.parametrize("module", ["kb", "cli", *[dotted(p) for s in STAGES for p in modules(s)]])
def test_every_module_imports_on_its_own(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)


def test_import_kb_and_cli_stay_light():
    code = ("import sys, kb, cli; heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'bm25s')"
            " if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
