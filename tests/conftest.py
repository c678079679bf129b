from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# The converted default model (~465 MB) is a cache shared by test runs, not per test.
MODEL_CACHE = Path(os.environ.get("KB_TEST_MODEL_CACHE", Path.home() / ".cache" / "madoguchi" / "models"))


def shared(*parts: str) -> Path:
    """A path under ../shared, or skip the test cleanly when the shared folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (../shared is only on the developers' machines)")
    return path


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own KB_HOME; nothing leaks from the developer's own settings."""
    for name in list(os.environ):
        if name.startswith("KB_") and name != "KB_TEST_MODEL_CACHE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KB_HOME", str(tmp_path / "kbhome"))
    monkeypatch.setenv("KB_MODEL_CACHE", str(MODEL_CACHE))
    return tmp_path / "kbhome"


@pytest.fixture
def fake_embedder(monkeypatch):
    """Route every model load to one FakeEmbedder (through the real loader's seam)."""
    import index.embedder

    fake = FakeEmbedder()
    # The abstention threshold is calibrated for the real model's cosines, not the fake's.
    monkeypatch.setenv("KB_ABSTAIN_BELOW", "0")
    monkeypatch.setattr(index.embedder, "load_embedder", lambda *a, **kw: fake)
    monkeypatch.setattr(index.embedder, "model_identity", lambda model: FakeEmbedder.model_id)
    return fake
