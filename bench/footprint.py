"""Bytes on disk per chunk: the published versions and the embedding cache, file by file.

    python bench/footprint.py laws10        # the 10 statutes of the acceptance set (5,840 chunks)
    python bench/footprint.py sample        # data/guidebook
    python bench/footprint.py laws10 --real # the real model instead of the stand-in (slow: embeds everything)

Builds an index from scratch, then changes one section and syncs again, so that two versions and a
cache that served both are on disk, as after any routine update. By default the vectors come from a
stand-in embedder (384 dimensions, the default model's width, values from a hash of the text): file
sizes depend on how many vectors there are and how they are stored, not on their values, and this
way a before/after comparison takes minutes instead of two full embeddings of the corpus.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, SHARED, machine  # noqa: E402

# The 10 statutes of the acceptance set: 5,840 chunks and 20,876 sentences with the default chunking.
LAWS10 = ("322AC0000000049", "322AC0000000224", "326CO0000000319", "333AC0000000192", "334AC0000000137",
          "334AC0000000141", "335AC0000000105", "340AC0000000141", "346AC0000000073", "349AC0000000116")


class StandIn:
    """384-d unit vectors from a hash of the text: the default model's shape, not its meaning."""

    model_id = "bench/stand-in-384"
    dim = 384
    batch_size = 32

    def _embed(self, texts) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=self.dim)
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_queries(self, texts):
        return self._embed(texts)

    def embed_passages(self, texts, *, progress=None):
        if progress:
            progress(len(texts))
        return self._embed(texts)


def sizes(index: Path) -> dict[str, int]:
    """Bytes per file kind: each version's files summed by name, and the cache files."""
    out: dict[str, int] = {}
    for p in sorted(index.rglob("*")):
        if not p.is_file() or p.name == ".lock":
            continue
        rel = p.relative_to(index).parts
        name = "/".join(rel[2:3]) if rel[0] == "versions" else "/".join(rel)
        out[name] = out.get(name, 0) + p.stat().st_size
    return out


def copy_sources(corpus: str, dest: Path) -> Path:
    if corpus == "sample":
        shutil.copytree(ROOT / "data" / "guidebook", dest)
        return dest
    dest.mkdir(parents=True)
    for law in LAWS10:
        for path in (SHARED / "corpus" / "laws").glob(f"{law}_*.html"):
            shutil.copy(path, dest / path.name)
    if len(list(dest.glob("*.html"))) != len(LAWS10):
        sys.exit(f"{SHARED / 'corpus' / 'laws'} lacks some of the 10 statutes")
    return dest


def edit(src: Path, corpus: str) -> None:
    path = src / "ja" / "01_nyukoku_zairyu.md" if corpus == "sample" else next(src.glob("326CO*.html"))
    text = path.read_text(encoding="utf-8")
    old, new = ("手数料はかかりません。", "手数料はかかりません（改訂）。") if corpus == "sample" \
        else ("十四日以内に", "十四日以内（改訂）に")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", choices=["laws10", "sample"])
    ap.add_argument("--real", action="store_true", help="embed with the configured model")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from kb import KnowledgeBase

    embedder = None if args.real else StandIn()
    with tempfile.TemporaryDirectory() as tmp:
        src = copy_sources(args.corpus, Path(tmp) / "src")
        index = Path(tmp) / "index"
        full = KnowledgeBase.sync([src], index=index, embedder=embedder)
        after_build = sizes(index)
        edit(src, args.corpus)
        KnowledgeBase.sync([src], index=index, embedder=embedder)
        after_sync = sizes(index)
    report = {"machine": machine(), "corpus": args.corpus, "chunks": full.chunks,
              "sentences": full.sentences_embedded, "embedder": "real" if args.real else StandIn.model_id,
              "one_version": after_build, "two_versions": after_sync,
              "bytes_per_chunk": {k: round(sum(v.values()) / full.chunks) for k, v in
                                  (("one_version", after_build), ("two_versions", after_sync))}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"# {report['machine']}\n# {args.corpus}: {full.chunks} chunks, {report['sentences']} sentences; "
          f"vectors from {report['embedder']}")
    print("| file | after a full build | after one more sync (two versions) |\n|---|---|---|")
    for name in sorted(set(after_build) | set(after_sync)):
        print(f"| {name} | {after_build.get(name, 0) / 2**20:.2f} MiB | {after_sync.get(name, 0) / 2**20:.2f} MiB |")
    b = report["bytes_per_chunk"]
    print(f"| **total per chunk** | **{b['one_version'] / 1024:.1f} KB** | **{b['two_versions'] / 1024:.1f} KB** |")


if __name__ == "__main__":
    main()
