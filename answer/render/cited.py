"""Answers and hits as plain data for AI agents (the MCP tools' results).

Everything an agent needs to quote and cite without re-reading the index: per cited section its
number and title, the edition (language) and release, the printed page and the 1-based PDF page,
the document's URL and the sentences quoted from it; and a verdict it must respect ("not_found":
say the guidebook has no answer and offer the nearest sections, never an answer of its own).
"""
from __future__ import annotations

from typing import Any, Sequence

from kb.model import Answer, Chunk, Citation, Hit, SearchResult

HOW_TO_CITE = ("Quote only the sentences given here. Cite each as the guidebook, section number and printed "
               "page, e.g. '(Living and Working Guidebook [ja], § 1.1.3, p. 2)', and give the URL. "
               "If verdict is 'not_found', say that the guidebook does not answer the question and list "
               "nearest_sections as places to look; do not answer from your own knowledge.")


def citation_data(citation: Citation) -> dict[str, Any]:
    """Where a passage is, as an agent cites it (``pdf_page`` is 1-based, as PDF viewers count)."""
    return {"document": citation.title, "section_id": citation.section_id,
            "title": citation.section_path[-1] if citation.section_path else citation.title,
            "section_path": list(citation.section_path), "edition": citation.language,
            "release": citation.release, "printed_page": citation.page_label,
            "pdf_page": None if citation.page_index is None else citation.page_index + 1,
            "url": citation.url, "label": citation.label()}


def hit_data(hit: Hit) -> dict[str, Any]:
    return {"rank": hit.rank, "score": round(hit.score, 4), **citation_data(hit.citation), "text": hit.chunk.text}


def to_cited(answer: Answer) -> dict[str, Any]:
    """The answer as an agent should relay it: verdict, cited sections with quotes, or nearest sections."""
    quotes: dict[int, list[str]] = {}
    for sentence in answer.sentences:
        for n in sentence.citations:
            quotes.setdefault(n, []).append(sentence.text)
    sections = [{"source": n, **citation_data(h.citation), "quoted_sentences": quotes.get(n, [])}
                for n, h in enumerate(answer.sources, 1)]
    data: dict[str, Any] = {
        "question": answer.query, "verdict": answer.verdict, "abstained": answer.abstained,
        "question_language": answer.language, "answer_edition": answer.edition, "note": answer.note,
        "sections": [] if answer.abstained else [s for s in sections if s["quoted_sentences"]],
        "nearest_sections": sections if answer.abstained else [],
        "how_to_cite": HOW_TO_CITE}
    return data


def search_data(result: SearchResult) -> dict[str, Any]:
    return {"query": result.query, "hits": [hit_data(h) for h in result.hits], "how_to_cite": HOW_TO_CITE}


def section_data(chunks: Sequence[Chunk], section_id: str, language: str) -> dict[str, Any]:
    """One edition's text of a section (``found`` False when that edition lacks it)."""
    if not chunks:
        return {"section_id": section_id, "edition": language, "found": False, "text": ""}
    return {**citation_data(Citation.of(chunks[0])), "section_id": section_id, "found": True,
            "text": "\n".join(c.text for c in chunks)}
