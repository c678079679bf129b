"""Turn answer sections into an Answer a desk worker can hand over: one cited block per section.

Each block is one section in one edition: its heading and its key sentences, quoted verbatim
(``answer.extract``), citing that section once. The first block is the best-supported section;
the others follow with what is urgent first (the shortest deadline they state), then by support.
Whether to answer at all is decided before, by ``answer.support``; below its threshold the answer
says so plainly and lists the nearest sections instead.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from answer.extract import Passage, Quote, SentenceVectorsFor, key_sentences
from answer.keyfacts import deadline_days
from answer.legs import Query
from index.keyword import KeywordIndex
from kb.config import AnswerSettings
from kb.model import Answer, AnswerBlock, AnswerSentence, Hit, SearchResult

NOT_FOUND = ("The knowledge base has no passage that answers this question. "
             "The nearest sections are listed below; check them or refer the question onwards.")
UNSURE = ("The guidebook may not cover this question: these are the nearest sections; "
          "check that they answer it before you pass them on.")


def compose_answer(result: SearchResult, query: Query, passages: Sequence[Passage],
                   sentence_vectors: SentenceVectorsFor, keyword: KeywordIndex, settings: AnswerSettings, *,
                   support: float, verdict: str, note: str = "", edition: str = "") -> Answer:
    """The answer from ``passages`` (the answer sections, best first, in their answer editions)."""
    if verdict == "not_found" or not passages:
        nearest = tuple(replace(p.hit, rank=i) for i, p in enumerate(passages[:3], 1))
        return Answer(result.query, (), nearest, abstained=True, note=" ".join(filter(None, (NOT_FOUND, note))),
                      support=support, timings_ms=dict(result.timings_ms), verdict="not_found",
                      language=query.language, edition=edition)
    quoted: list[tuple[Passage, list[Quote]]] = []
    for i, p in enumerate(passages):
        quotes = key_sentences(p, query, sentence_vectors, keyword, budget(i, len(passages), settings.max_sentences))
        if quotes:
            quoted.append((p, quotes))
    if not quoted:
        return compose_answer(result, query, passages, sentence_vectors, keyword, settings, support=support,
                              verdict="not_found", note=note, edition=edition)
    first, rest = quoted[0], quoted[1:]
    rest.sort(key=lambda pq: min((d for q in pq[1] if (d := deadline_days(q.text)) is not None), default=10**6))
    blocks, sentences, sources = [], [], []
    for n, (p, quotes) in enumerate([first, *rest], 1):
        own = tuple(AnswerSentence(q.text, (n,)) for q in quotes)
        chunk = p.hit.chunk
        title = chunk.section_path[-1] if chunk.section_path else chunk.title
        blocks.append(AnswerBlock(n, chunk.section_id, title, own))
        sentences.extend(own)
        sources.append(replace(p.hit, rank=n))
    if verdict == "unsure":
        note = " ".join(filter(None, (UNSURE, note)))
    return Answer(result.query, tuple(sentences), tuple(sources), note=note, support=support,
                  timings_ms=dict(result.timings_ms), blocks=tuple(blocks), verdict=verdict,
                  language=query.language, edition=edition or sources[0].chunk.language)


def budget(i: int, sections: int, max_sentences: int) -> int:
    """Key sentences for the ``i``-th of ``sections`` answer sections: ``max_sentences`` for a
    section that answers alone; in a checklist of several, one fewer for the best and two fewer
    for the others, so a several-part answer stays short (at least one each)."""
    if sections == 1:
        return max_sentences
    return max(1, max_sentences - (1 if i == 0 else 2))


def blocks_of(sentences: Sequence[AnswerSentence], sources: Sequence[Hit]) -> tuple[AnswerBlock, ...]:
    """Sentences (e.g. an LLM's) grouped by the source they cite first, in source order."""
    out = []
    for n, hit in enumerate(sources, 1):
        own = tuple(s for s in sentences if s.citations and s.citations[0] == n)
        if own:
            title = hit.chunk.section_path[-1] if hit.chunk.section_path else hit.chunk.title
            out.append(AnswerBlock(n, hit.chunk.section_id, title, own))
    return tuple(out)
