"""Answering a consultation: retrieve sections, judge support, quote each section from one edition.

The answer edition of a section: ``lang`` when given and that edition has the section; else the
edition the search showed it in (the question's own where it has the section, else Japanese). A
section the requested edition lacks comes from Japanese, and a language with no edition here is
answered from Japanese, each said in the note; the other editions that have a section are listed
with its block ("also in"), never quoted twice.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from answer import support
from answer.compose import blocks_of, compose_answer
from answer.editions import BASE, aligned
from answer.extract import Passage
from answer.llm import LLMError, generate
from answer.retrieve import HybridRetriever
from ingest.chunker import join_passages
from ingest.language import guess_language
from kb.config import AnswerSettings, LLMSettings
from kb.errors import ConfigError
from kb.model import Answer, Chunk, Hit, numbered


def ask(retriever: HybridRetriever, query: str, k: int | None, *, lang: str | None, generate_answer: bool,
        answer: AnswerSettings, llm: LLMSettings) -> Answer:
    """The answer to ``query`` from the version ``retriever`` reads (see ``KnowledgeBase.ask``)."""
    started = time.perf_counter()
    result, prepared, sections = retriever.search(query, max(k or retriever.settings.top_k, answer.passages))
    t0 = time.perf_counter()
    p = support.probability(prepared.vector, retriever.embedder.model_id, sections)
    verdict = support.verdict(p, answer.abstain_below, answer.unsure_below)
    chosen = answer_sections(result.hits, answer) if verdict != "not_found" else list(result.hits[:3])
    editions = retriever.version.manifest.languages
    second = retriever.fallback_edition
    target = lang if lang is None or lang in editions else second
    # The language the answer is for: the one asked for, else the question's own (search already shows
    # each section in it where its edition has the section, else in the fallback edition).
    wanted = lang if lang is not None else (prepared.language if prepared.language != "und" else None)
    reference = wanted if wanted in editions else second  # the edition each section should come from
    passages, fallback = [], {}
    for hit in chosen:
        passage = section_passage(retriever, hit, target, prepared.vector)
        shown = passage.hit.chunk.language
        if wanted is not None and shown != reference:
            fallback.setdefault(shown, []).append(hit.chunk.section_id or hit.chunk.source_id)
        passages.append(passage)
    note = edition_note(wanted, reference, fallback)
    out = compose_answer(result, prepared, passages, retriever.sentence_vectors, retriever.version.keyword, answer,
                         support=p, verdict=verdict, note=note, edition=target or "")
    if generate_answer and not out.abstained:
        out = generated(out, out.sources, lang, llm, answer.max_sentences)
    out = replace(out, blocks=tuple(replace(b, also_in=also_in(retriever, b.section_id, out.sources[b.source - 1]))
                                    for b in out.blocks))
    out.timings_ms["answer"] = (time.perf_counter() - t0) * 1e3
    out.timings_ms["total"] = (time.perf_counter() - started) * 1e3
    return out


def answer_sections(hits: Sequence[Hit], settings: AnswerSettings) -> list[Hit]:
    """The sections an answer quotes: the best one, and those close enough to it."""
    if not hits:
        return []
    best = hits[0].score
    return [h for h in hits[:settings.max_sections] if h.score >= best - settings.section_margin]


def section_passage(retriever: HybridRetriever, hit: Hit, target: str | None, vector: np.ndarray) -> Passage:
    """``hit``'s whole section as one passage, in ``target``'s edition when that has it (else in
    Japanese, else as found); a law article or unnumbered text is its own passage."""
    version = retriever.version
    chunk = hit.chunk
    chunks = [chunk]
    if numbered(chunk.section_id):
        tried = (target, chunk.language if target is None else None, retriever.fallback_edition, BASE)
        for edition in dict.fromkeys(e for e in tried if e):
            found = [c for c in version.store.section(edition, chunk.section_id, subsections=False).values()
                     if c.language == edition]
            if found:
                source = aligned(version, chunk, edition, vector)[0].source_id if edition != chunk.language \
                    else chunk.source_id
                chunks = [c for c in found if c.source_id == source]
                break
    joined, parts = join_passages(chunks)
    by_id = {c.chunk_id: c for c in chunks}
    stored = tuple((offset, by_id[part.chunk_id], part.char_start - by_id[part.chunk_id].char_start)
                   for offset, part in parts)
    return Passage(replace(hit, chunk=joined), stored)


def edition_note(wanted: str | None, reference: str, fallback: Mapping[str, Sequence[str]]) -> str:
    """Says when the language the answer is for has no edition (``reference`` is then the fallback
    edition answered from), and which sections ``reference`` lacks (``fallback``: the edition each
    was quoted from instead)."""
    if wanted is None:
        return ""
    notes = [] if wanted == reference else [
        f"There is no {wanted} edition in this knowledge base; answering from {reference}."]
    notes += [f"Not in the {reference} edition: {', '.join(dict.fromkeys(ids))} (quoted from the {shown} edition)."
              for shown, ids in fallback.items()]
    return " ".join(notes)


def also_in(retriever: HybridRetriever, section_id: str | None, hit: Hit) -> tuple[str, ...]:
    """The other editions that have ``section_id`` (Japanese first)."""
    if not section_id:
        return ()
    have = [lang for lang, ids in retriever.version.section_ids.items()
            if section_id in ids and lang != hit.chunk.language]
    return tuple(sorted(have, key=lambda lang: (lang != BASE, lang)))


def in_edition(retriever: HybridRetriever, chunk: Chunk, language: str,
               vector: np.ndarray | None = None) -> list[Chunk]:
    """``chunk``'s section in ``language``'s edition, best match to ``vector`` first (default: the
    passage's own vector, so its translation comes first); [] if that edition lacks the section."""
    if chunk.language == language:
        return [chunk]
    version = retriever.version
    if vector is None:
        rows = version.store.rows([chunk.chunk_id])
        vector = version.vectors.vectors([rows[chunk.chunk_id]])[0] if chunk.chunk_id in rows else None
    return aligned(version, chunk, language, vector)


def generated(extractive: Answer, hits: Sequence[Hit], lang: str | None, llm: LLMSettings,
              max_sentences: int) -> Answer:
    """The LLM's answer over the same sections, or ``extractive`` with the reason it was not used."""
    if not llm.base_url:
        raise ConfigError("no LLM endpoint configured: set KB_LLM_BASE_URL (and KB_LLM_MODEL, "
                          "KB_LLM_API_KEY) to an OpenAI-compatible server, or ask without --llm")
    language = lang or guess_language(extractive.query)
    try:
        sentences = generate(llm, extractive.query, hits, language, max_sentences * max(1, len(hits)))
    except LLMError as exc:
        note = f"Generated answer not used: {exc}; showing the quoted answer."
        return replace(extractive, note=" ".join(filter(None, (extractive.note, note))))
    return replace(extractive, sentences=tuple(sentences), sources=tuple(hits), method="generated",
                   blocks=blocks_of(sentences, hits))
