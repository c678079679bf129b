"""Shared helpers for the benchmarks: machine description and SQuAD-format loading."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{time.strftime('%Y-%m-%d')} · {platform.node()} · {cpu} · {os.cpu_count()} cores · "
            f"Python {platform.python_version()}")


def load_squad(paths: list[Path]) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    """(paragraphs as (title, context), questions as (question, paragraph index))."""
    paragraphs: list[tuple[str, str]] = []
    index: dict[tuple[str, str], int] = {}
    questions: list[tuple[str, int]] = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        for article in data:
            title = article.get("title", "")
            for para in article["paragraphs"]:
                context = para["context"]
                # JSQuAD prefixes each context with "title [SEP] "; keep the paragraph text only.
                if " [SEP] " in context:
                    context = context.split(" [SEP] ", 1)[1]
                key = (title, context)
                if key not in index:
                    index[key] = len(paragraphs)
                    paragraphs.append(key)
                for qa in para["qas"]:
                    questions.append((qa["question"], index[key]))
    return paragraphs, questions
