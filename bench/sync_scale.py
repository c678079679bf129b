"""Full build vs incremental sync of a one-section change, on the sample and on the statutes.

    python bench/sync_scale.py sample          # data/guidebook (~2k chunks)
    python bench/sync_scale.py laws            # ../shared/corpus/laws (22 statutes, >10k chunks)

Copies the sources to a temporary folder, builds an index from scratch (embedding everything),
changes one section of one file, syncs again (only the changed chunks are embedded), and reports
both times, pages/chunks per second and the index size on disk.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, SHARED, machine  # noqa: E402


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def edit_one_section(folder: Path, kind: str) -> str:
    if kind == "sample":
        path = folder / "ja" / "01_nyukoku_zairyu.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("手数料はかかりません。", "手数料はかかりません（改訂）。", 1), encoding="utf-8")
        return path.name
    path = sorted(folder.glob("326CO*.html"))[0]  # 入管法
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("十四日以内に", "十四日以内（改訂）に", 1), encoding="utf-8")
    return path.name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", choices=["sample", "laws"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from kb import KnowledgeBase

    source = ROOT / "data" / "guidebook" if args.corpus == "sample" else SHARED / "corpus" / "laws"
    if not source.exists():
        sys.exit(f"{source} not found")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / source.name
        shutil.copytree(source, src)
        index = Path(tmp) / "index"
        t0 = time.perf_counter()
        full = KnowledgeBase.sync([src], index=index)
        full_s = time.perf_counter() - t0
        size = tree_size(index)
        changed = edit_one_section(src, args.corpus)
        t0 = time.perf_counter()
        sync = KnowledgeBase.sync([src], index=index)
        sync_s = time.perf_counter() - t0
        report = {"machine": machine(), "corpus": args.corpus, "chunks": full.chunks,
                  "full_build_s": round(full_s, 1), "full_embedded": full.embedded,
                  "full_sentences_embedded": full.sentences_embedded,
                  "full_passages_per_s": round(full.passages_per_second, 1),
                  "changed_file": changed, "sync_s": round(sync_s, 2), "sync_embedded": sync.embedded,
                  "sync_changes": sync.changes.to_dict(), "index_bytes": size}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"# {report['machine']}\n# corpus {args.corpus}: {full.chunks} chunks")
    print(f"full build: {full_s:.1f} s ({full.embedded} passages and {full.sentences_embedded} sentences embedded, "
          f"{report['full_passages_per_s']} texts/s)")
    print(f"one-section change in {changed}: sync {sync_s:.2f} s, {sync.embedded} passages embedded; "
          f"chunks {sync.changes.chunks}")
    print(f"index on disk: {size / 2**20:.1f} MiB (including the embedding cache)")


if __name__ == "__main__":
    main()
