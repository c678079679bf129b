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
    for name in ("LC_ALL", "LC_MESSAGES"):  # the UI language follows the locale: English unless a test says
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("KB_HOME", str(tmp_path / "kbhome"))
    monkeypatch.setenv("KB_MODEL_CACHE", str(MODEL_CACHE))
    return tmp_path / "kbhome"


@pytest.fixture
def fake_embedder(monkeypatch):
    """One FakeEmbedder, registered as the model "fake" (the model registry: the real seam) and made
    the configured model, so the CLI, the service and the library all load it."""
    from index.embed import ModelSpec, register_model

    fake = FakeEmbedder()
    # The abstention threshold is calibrated for the real model's cosines, not the fake's.
    monkeypatch.setenv("KB_ABSTAIN_BELOW", "0")
    monkeypatch.setenv("KB_UNSURE_BELOW", "0")
    monkeypatch.setenv("KB_MODEL", "fake")
    register_model("fake", ModelSpec(identity=lambda: FakeEmbedder.model_id, factory=lambda threads, batch: fake))
    yield fake
    register_model("fake", None)


# A two-edition guide (Japanese and Vietnamese, same section numbers; 1.2 only in Japanese) shared by
# the editions, service and bot tests.
JA = """+++
title = "ガイド"
language = "ja"
edition = "t"
+++
<!-- page: 1 -->
# 第1章 入国・在留手続
## 1 在留カード
### (3) 紛失
在留カードをなくしたときは、警察に届けてから14日以内に再交付を申請します。
## 2 在留期間の更新
在留期間の更新は満了の3か月前から申請できます。
"""
VI = """+++
title = "Hướng dẫn"
language = "vi"
edition = "t"
+++
<!-- page: 1 -->
# Chương 1 Thủ tục nhập cảnh
## 1 Thẻ cư trú
### (3) Mất thẻ
Khi bị mất thẻ cư trú, hãy báo cảnh sát và xin cấp lại trong vòng 14 ngày.
"""


def write_sources(root: Path, texts: dict[str, str]) -> Path:
    """``root/<lang>/01.md`` for each text; returns ``root``."""
    for lang, text in texts.items():
        (root / lang).mkdir(parents=True, exist_ok=True)
        (root / lang / "01.md").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def index(tmp_path, fake_embedder) -> Path:
    """The two-edition guide indexed with the fake embedder."""
    from kb import KnowledgeBase

    KnowledgeBase.sync([write_sources(tmp_path / "src", {"ja": JA, "vi": VI})], index=tmp_path / "idx")
    return tmp_path / "idx"


# Fuzzing (tests/test_fuzz.py): a few dozen fixed cases per property in the suite, each within 5 s;
# `python -m bench.fuzz` selects the "fuzz" profile (thousands of random cases).
from datetime import timedelta  # noqa: E402

from hypothesis import settings as _hypothesis  # noqa: E402

_hypothesis.register_profile("default", max_examples=40, deadline=timedelta(seconds=5), derandomize=True,
                             print_blob=True)
_hypothesis.register_profile("fuzz", max_examples=int(os.environ.get("KB_FUZZ_EXAMPLES", "2000")), deadline=timedelta(seconds=5), print_blob=True)
_hypothesis.load_profile(os.environ.get("KB_FUZZ_PROFILE", "default"))


def real_settings(tmp_path: Path):
    """Settings for the real default model (integration tests), homed in ``tmp_path``."""
    from kb import Settings

    return Settings.load(home=tmp_path, model_cache=MODEL_CACHE)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> Path:
    """The whole sample (nine editions, partial ones included), indexed with the real model once per session."""
    from kb import KnowledgeBase
    from kb.config import SAMPLE_DIR

    root = tmp_path_factory.mktemp("sample")
    settings = real_settings(root).with_(index=root / "index")
    report = KnowledgeBase.sync([SAMPLE_DIR], settings=settings)
    assert report.chunks > 300 and all(s.error is None for s in report.sources)
    return root / "index"


DESK_EDITIONS = ("ja", "ja-easy", "en", "vi", "ne", "th")


@pytest.fixture(scope="session")
def fake_sample_index(tmp_path_factory) -> Path:
    """Six editions of the sample guidebook indexed with the fake embedder (about 6 s, once)."""
    from kb import KnowledgeBase, Settings
    from kb.config import SAMPLE_DIR

    root = tmp_path_factory.mktemp("fake-sample")
    settings = Settings.load(home=root, index=root / "index", model_cache=MODEL_CACHE)
    KnowledgeBase.sync([SAMPLE_DIR / lang for lang in DESK_EDITIONS], settings=settings, embedder=FakeEmbedder())
    return root / "index"
