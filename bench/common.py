"""Shared helpers for the benchmarks: machine description and SQuAD-format loading."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def model_cache() -> Path:
    """The model cache ``kb`` itself uses (KB_MODEL_CACHE, config.toml, else $KB_HOME/models): benchmarks
    that give their runs an empty KB_HOME point them here, so the model is not converted again."""
    from kb.config import Settings

    return Settings.load().model_cache


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


def fit_logistic(x, y, l2: float = 0.01):
    """L2-regularised logistic regression on standardised features, fitted with L-BFGS; returns
    (weights in raw feature units, bias)."""
    import numpy as np
    from scipy.optimize import minimize

    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd

    def loss(w):
        p = 1 / (1 + np.exp(-np.clip(z @ w[:-1] + w[-1], -50, 50)))
        value = -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + l2 * w[:-1] @ w[:-1]
        return value, np.r_[z.T @ (p - y) / len(y) + 2 * l2 * w[:-1], np.mean(p - y)]

    w = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    raw = w[:-1] / sd
    return raw, float(w[-1] - mu @ raw)


def fit_softmax(groups, l2: float = 0.01):
    """A conditional logit: for each (candidates' features, gold mask) group, a softmax over the
    candidates whose gold ones share the probability mass; L2, standardised, L-BFGS. Returns the
    weights in raw feature units (no bias: it would not change an order)."""
    import numpy as np
    from scipy.optimize import minimize

    usable = [(x, g) for x, g in groups if g.any()]
    stacked = np.concatenate([x for x, _ in usable])
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-9
    scaled = [((x - mu) / sd, g) for x, g in usable]

    def loss(w):
        total, grad = l2 * w @ w, 2 * l2 * w
        for x, g in scaled:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            pg = p[g].sum()
            total -= np.log(pg + 1e-12)
            grad -= (p[g] / pg) @ x[g] - p @ x
        return total / len(scaled), grad / len(scaled)

    return minimize(loss, np.zeros(stacked.shape[1]), jac=True, method="L-BFGS-B").x / sd
