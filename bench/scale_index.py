"""A synthetic large index on disk, published like any other, for serving benchmarks at scale.

    python bench/scale_index.py --from IDX --size 100000 --out /tmp/idx100k

Copies the chunks of a real index (``--from``, e.g. the sample guidebook) until ``--size`` chunks,
each copy's title marked 〔n〕 so every passage and sentence is its own text, and writes a version
through the product's own write path (``index.version.write_version``: FAISS, BM25, sentence vectors,
chunk store) and publication. Vectors are the real ones of the original texts, read from the source
index's embedding cache, plus small noise (sigma 0.01, renormalised), so no model runs. Repetition
understates how the keyword vocabulary grows with a real corpus; sizes and memory of everything else
scale as they would.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.cache import CACHE_FILE, EmbeddingCache, text_key  # noqa: E402
from index.layout import IndexLayout  # noqa: E402
from index.version import open_version, write_version  # noqa: E402
from kb.config import ChunkSettings  # noqa: E402
from kb.model import Document  # noqa: E402

MARK = re.compile("〔\\d+〕")


class Replayed:
    """Embeds a copy's text as its original's cached vector plus noise seeded by the text."""

    def __init__(self, cache: EmbeddingCache, model_id: str, dim: int) -> None:
        self.cache, self.model_id, self.dim, self.batch_size = cache, model_id, dim, 256

    def embed_queries(self, texts):
        raise NotImplementedError("a synthetic index is searched with the real model")

    def embed_passages(self, texts, *, progress=None):
        originals = [MARK.sub("", t, count=1) for t in texts]
        found = self.cache.get(self.model_id, [text_key(t) for t in originals], self.dim)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, (text, original) in enumerate(zip(texts, originals)):
            base = found.get(text_key(original))
            if base is None:
                raise SystemExit(f"{original[:60]!r} is not in the source index's cache; rebuild it with kb sync")
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            v = base + np.random.default_rng(seed).normal(0, 0.01, self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from", dest="source", type=Path, required=True, help="a real index (this format)")
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    version = open_version(args.source)
    m = version.manifest
    base = version.store.all_chunks()
    documents = [Document(s.source_id, s.path, s.title, s.language, s.release, ()) for s in version.store.sources()]
    version.close()
    chunks = [replace(c, chunk_id=f"{c.chunk_id}-{n}", title=f"{c.title}〔{n}〕")
              for n in range(-(-args.size // len(base))) for c in base][:args.size]
    cache = EmbeddingCache(args.source / CACHE_FILE)
    layout = IndexLayout(args.out)
    staged = layout.new_staging()
    started = time.perf_counter()
    write_version(staged, documents, chunks, Replayed(cache, m.model_id, m.dim), model=m.model,
                  chunking=ChunkSettings(m.chunk_size, m.chunk_overlap))
    final = layout.publish(staged)
    cache.close()
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    print(f"{args.out}: {len(chunks):,} chunks in {final.name}, {size / 2**20:.0f} MiB, "
          f"written in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
