"""Turn retrieval results into an Answer a desk worker can verify: quoted sentences citing sources.

The answer abstains when the knowledge base does not support one. ``support`` is the learned
re-ranker's score of the best hit (it weighs the passage's and its best sentence's cosine to the
question and the share of the question's keywords the passage contains); with the re-ranker off,
the best passage cosine plus 0.1 x the share of keywords the best sentence contains. Below the
calibrated threshold the answer says so plainly and lists the nearest sections instead. See
``bench/abstention.py`` for how the formula and the thresholds were chosen.
"""
from __future__ import annotations

from typing import Sequence

from answer.extract import SentenceVectorsFor, extract
from answer.legs import Query
from index.keyword import KeywordIndex
from kb.config import AnswerSettings
from ingest.language import guess_language
from kb.model import Answer, AnswerBlock, AnswerSentence, Hit, SearchResult

NOT_FOUND = ("The knowledge base has no passage that answers this question. "
             "The nearest sections are listed below; check them or refer the question onwards.")
WORDS_WEIGHT = 0.1  # fused support = top cosine + WORDS_WEIGHT * best keyword coverage (bench/abstention.py)


def support_score(result: SearchResult, word_coverage: float) -> float:
    """The re-ranker's score of the best hit; without the re-ranker, the best passage cosine plus
    ``WORDS_WEIGHT`` x the best sentence's keyword coverage."""
    if result.reranked:
        return max((h.rerank_score for h in result.hits if h.rerank_score is not None), default=0.0)
    dense = max((h.dense_score for h in result.hits if h.dense_score is not None), default=0.0)
    return dense + WORDS_WEIGHT * word_coverage


def threshold(result: SearchResult, settings: AnswerSettings) -> float:
    """The calibrated support below which to abstain, in the units ``support_score`` gives."""
    return settings.abstain_below if result.reranked else settings.abstain_below_fused


def compose_answer(result: SearchResult, query: Query, sentence_vectors: SentenceVectorsFor,
                   keyword: KeywordIndex, settings: AnswerSettings, *,
                   hits: Sequence[Hit] | None = None, note: str = "") -> Answer:
    """Answer from ``hits`` (default: the result's own; the answer edition's aligned passages when
    the caller asks for another language), judged for support on the retrieval ``result``."""
    hits = tuple(hits if hits is not None else result.hits)[:settings.passages]
    quoted, sources, words = extract(hits, query, sentence_vectors, keyword, max_sentences=settings.max_sentences)
    support = support_score(result, words)
    language = guess_language(query.text)
    if not quoted or support < threshold(result, settings):
        return Answer(result.query, (), hits[:3], abstained=True, note=" ".join(filter(None, (NOT_FOUND, note))),
                      support=support, timings_ms=dict(result.timings_ms), verdict="not_found", language=language)
    return Answer(result.query, tuple(quoted), tuple(sources), note=note, support=support,
                  timings_ms=dict(result.timings_ms), blocks=blocks_of(quoted, sources), language=language,
                  edition=sources[0].chunk.language if sources else "")


def blocks_of(sentences: Sequence[AnswerSentence], sources: Sequence[Hit]) -> tuple[AnswerBlock, ...]:
    """The sentences grouped by the source they quote, in source order."""
    out = []
    for n, hit in enumerate(sources, 1):
        own = tuple(s for s in sentences if s.citations and s.citations[0] == n)
        if own:
            title = hit.chunk.section_path[-1] if hit.chunk.section_path else hit.chunk.title
            out.append(AnswerBlock(n, hit.chunk.section_id, title, own))
    return tuple(out)
