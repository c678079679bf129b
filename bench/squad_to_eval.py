"""Turn a SQuAD-format set (JSQuAD, JaQuAD) into a corpus folder and a `kb eval` question file.

    python bench/squad_to_eval.py ../shared/eval/jsquad/valid-v1.3.json /tmp/jsquad
    kb sync /tmp/jsquad/corpus --index /tmp/jsquad/index
    kb eval /tmp/jsquad/questions.jsonl --index /tmp/jsquad/index

Each unique paragraph becomes ``corpus/pNNNNN.md`` (its article title as the document title, which
both legs index with the text); each question's gold target is its paragraph's source id.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_squad  # noqa: E402


def convert(files: list[Path], out: Path, language: str = "ja", limit: int = 0) -> tuple[int, int]:
    """Write ``out/corpus/*.md`` and ``out/questions.jsonl``; returns (paragraphs, questions)."""
    paragraphs, questions = load_squad(files)
    if limit:
        questions = questions[:limit]
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(len(paragraphs))))
    for i, (title, context) in enumerate(paragraphs):
        front = (f"+++\ntitle = {json.dumps(title, ensure_ascii=False)}\nlanguage = \"{language}\"\n"
                 f"edition = \"{files[0].stem}\"\n+++\n\n")
        (corpus / f"p{i:0{width}d}.md").write_text(front + context.strip() + "\n", encoding="utf-8")
    with open(out / "questions.jsonl", "w", encoding="utf-8") as f:
        for n, (question, gold) in enumerate(questions):
            f.write(json.dumps({"id": f"q{n}", "question": question, "language": language,
                                "gold": [{"source_id": f"corpus/p{gold:0{width}d}.md"}]},
                               ensure_ascii=False) + "\n")
    return len(paragraphs), len(questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path, help="SQuAD-format JSON file(s), then the output folder")
    ap.add_argument("--language", default="ja")
    ap.add_argument("--limit", type=int, default=0, help="first N questions only")
    args = ap.parse_args()
    *files, out = args.files
    if not files:
        sys.exit("give one or more SQuAD JSON files and an output folder")
    n_par, n_q = convert(files, out, args.language, args.limit)
    print(f"{n_par} paragraphs -> {out / 'corpus'}; {n_q} questions -> {out / 'questions.jsonl'}")


if __name__ == "__main__":
    main()
