"""Turn ranked hits into an Answer whose every sentence cites a numbered source."""
from __future__ import annotations

from kb.model import Answer, AnswerSentence, SearchResult


def passages_answer(result: SearchResult, passages: int = 3) -> Answer:
    """The best ``passages`` quoted whole, each citing itself; no hits -> an abstaining answer."""
    hits = result.hits[:passages]
    if not hits:
        return Answer(result.query, (), (), abstained=True,
                      note="Nothing in the knowledge base matches this question.",
                      timings_ms=dict(result.timings_ms))
    sentences = tuple(AnswerSentence(h.chunk.text, (i,)) for i, h in enumerate(hits, 1))
    return Answer(result.query, sentences, hits, timings_ms=dict(result.timings_ms))
