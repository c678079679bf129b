"""The example questions of a version (``ingest.questions``), embedded as queries: ``questions.npz``.

``nearness`` turns a desk question's vector into one number per section. e5 gives a question a
higher cosine to every question in its own language, whatever it asks, so each cosine is first put
on its example language's scale (a z-score over that language's examples); a section's number is
then its nearest example on that scale, as a z-score over every section that has examples. So an
easy-Japanese question is drawn by an English or Vietnamese example of the right section as much as
by the easy-Japanese example of a wrong one: on ../shared/eval/consultations/dev.jsonl R@5 .923 ->
.949 against the raw cosines (BENCHMARKS.md). Only sections the version's chunks have are kept: an
example for a section the book no longer has is dropped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from index.cache import EmbeddingCache, embed_with_cache
from index.embed import Embedder
from ingest.questions import ExampleQuestion
from kb.model import Progress

FILE = "questions.npz"
log = logging.getLogger("madoguchi.index")


@dataclass(frozen=True)
class ExampleVectors:
    sections: tuple[str, ...]  # distinct section ids, sorted
    owner: np.ndarray  # per example: its section's position in ``sections``
    vectors: np.ndarray  # per example: its query vector (float32, unit length)
    languages: tuple[str, ...]  # per example

    def __post_init__(self) -> None:
        _, group = np.unique(np.array(self.languages, dtype=str), return_inverse=True)
        object.__setattr__(self, "_group", group.reshape(-1))
        object.__setattr__(self, "_sizes", np.bincount(group.reshape(-1)).astype(np.float64))

    def __len__(self) -> int:
        return len(self.owner)

    def nearness(self, vector: np.ndarray) -> dict[str, float]:
        """Section id -> how near the question is to the section's examples, a z-score over the
        sections (see the module docstring; empty without examples)."""
        if not len(self.owner):
            return {}
        cos = (self.vectors @ vector.astype(np.float32)).astype(np.float64)
        g, n = self._group, self._sizes
        mean = np.bincount(g, cos) / n
        sd = np.sqrt(np.maximum(np.bincount(g, cos * cos) / n - mean * mean, 0.0))
        scaled = (cos - mean[g]) / np.where(sd > 1e-9, sd, 1.0)[g]
        best = np.full(len(self.sections), -np.inf)
        np.maximum.at(best, self.owner, scaled)
        z = (best - best.mean()) / (best.std() or 1.0)
        return dict(zip(self.sections, z.tolist()))


def build(examples: Sequence[ExampleQuestion], sections: set[str], embedder: Embedder,
          cache: EmbeddingCache | None = None, progress: Progress | None = None) -> ExampleVectors:
    """Embed the examples of ``sections`` (the version's section ids) as queries."""
    kept = [q for q in examples if q.section in sections]
    if len(kept) < len(examples):
        missing = sorted({q.section for q in examples} - sections)
        log.warning("%d example questions name sections this index lacks (%s); left out",
                    len(examples) - len(kept), ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
    ids = tuple(sorted({q.section for q in kept}))
    at = {s: i for i, s in enumerate(ids)}
    shown = (lambda _, done, total: progress("embed examples", done, total)) if progress else None
    vectors, _ = embed_with_cache(embedder, [q.text for q in kept], cache, kind="query", progress=shown)
    return ExampleVectors(ids, np.array([at[q.section] for q in kept], dtype=np.int32),
                          vectors, tuple(q.language for q in kept))


def save(examples: ExampleVectors, folder: Path) -> None:
    with open(folder / FILE, "wb") as f:
        np.savez(f, sections=np.array(examples.sections, dtype=str), owner=examples.owner,
                 vectors=examples.vectors, languages=np.array(examples.languages, dtype=str))


def load(folder: Path, dim: int) -> ExampleVectors:
    with np.load(folder / FILE, allow_pickle=False) as data:
        sections, owner, vectors, languages = (data[k] for k in ("sections", "owner", "vectors", "languages"))
    if vectors.ndim != 2 or vectors.shape[1] != dim or not len(owner) == len(vectors) == len(languages) or \
            (len(owner) and (owner.min() < 0 or owner.max() >= len(sections))):
        raise ValueError(f"inconsistent arrays {vectors.shape}, {owner.shape}, {len(sections)} sections")
    return ExampleVectors(tuple(sections.tolist()), owner.astype(np.int32), vectors.astype(np.float32),
                          tuple(languages.tolist()))
