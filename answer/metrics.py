"""Retrieval metrics over ranked lists of ids (pure functions; ``kb eval`` and the benchmarks share them)."""
from __future__ import annotations

import math
from typing import Hashable, Iterable, Sequence


def first_relevant_rank(ranked: Sequence[Hashable], gold: set) -> int | None:
    """1-based rank of the first relevant id, or None."""
    for rank, item in enumerate(ranked, 1):
        if item in gold:
            return rank
    return None


def recall_at(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """1.0 if any gold id is in the top ``k`` (single-answer retrieval: hit rate)."""
    rank = first_relevant_rank(ranked, gold)
    return 1.0 if rank is not None and rank <= k else 0.0


def mrr_at(ranked: Sequence[Hashable], gold: set, k: int = 10) -> float:
    rank = first_relevant_rank(ranked, gold)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at(ranked: Sequence[Hashable], gold: set, k: int = 10) -> float:
    """Binary-relevance nDCG@k; ideal = all gold ids first."""
    dcg = sum(1.0 / math.log2(i + 1) for i, item in enumerate(ranked[:k], 1) if item in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal if ideal else 0.0


def dedupe(items: Iterable[Hashable]) -> list:
    """Keep the first occurrence of each id (several chunks of one passage count once)."""
    seen: set = set()
    return [x for x in items if not (x in seen or seen.add(x))]


def cover_at(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """The share of the gold ids in the top ``k``: for a several-part question, how many of the
    sections it needs are there (equals recall_at for one gold id)."""
    return len(gold & set(ranked[:k])) / len(gold) if gold else 0.0


def summarize(ranked_lists: Sequence[Sequence[Hashable]], golds: Sequence[set]) -> dict[str, float]:
    n = len(ranked_lists)
    if n == 0:
        return {"n": 0}
    return {
        "n": n,
        "cover@5": sum(cover_at(r, g, 5) for r, g in zip(ranked_lists, golds)) / n,
        "R@1": sum(recall_at(r, g, 1) for r, g in zip(ranked_lists, golds)) / n,
        "R@5": sum(recall_at(r, g, 5) for r, g in zip(ranked_lists, golds)) / n,
        "R@10": sum(recall_at(r, g, 10) for r, g in zip(ranked_lists, golds)) / n,
        "MRR@10": sum(mrr_at(r, g, 10) for r, g in zip(ranked_lists, golds)) / n,
        "nDCG@10": sum(ndcg_at(r, g, 10) for r, g in zip(ranked_lists, golds)) / n,
    }
