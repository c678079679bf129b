"""Answering a consultation question: retrieve, pick the answer edition, quote (or generate), judge support.

The answer edition: with ``lang``, each retrieved section is quoted from that language's edition,
aligned by section number; a section that edition lacks comes from Japanese, and a language with
no edition here is answered from Japanese, each said in the note.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np

from answer.compose import blocks_of, compose_answer
from answer.editions import BASE, aligned
from answer.llm import LLMError, generate
from answer.retrieve import HybridRetriever
from ingest.language import guess_language
from kb.config import AnswerSettings, LLMSettings
from kb.errors import ConfigError
from kb.model import Answer, Chunk, Hit


def ask(retriever: HybridRetriever, query: str, k: int | None, *, lang: str | None, generate_answer: bool,
        answer: AnswerSettings, llm: LLMSettings) -> Answer:
    """The answer to ``query`` from the version ``retriever`` reads (see ``KnowledgeBase.ask``)."""
    started = time.perf_counter()
    result, prepared = retriever.search(query, max(k or retriever.settings.top_k, answer.passages))
    hits, note = (list(result.hits), "") if lang is None else \
        in_answer_edition(retriever, result.hits, lang, prepared.vector)
    t0 = time.perf_counter()
    out = compose_answer(result, prepared, retriever.sentence_vectors, retriever.version.keyword, answer,
                         hits=hits, note=note)
    if generate_answer and not out.abstained:
        out = generated(out, hits[:answer.passages], lang, llm, answer.max_sentences)
    out = replace(out, blocks=tuple(replace(b, also_in=also_in(retriever, b.section_id, out.sources[b.source - 1]))
                                    for b in out.blocks))
    out.timings_ms["answer"] = (time.perf_counter() - t0) * 1e3
    out.timings_ms["total"] = (time.perf_counter() - started) * 1e3
    return out


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


def in_answer_edition(retriever: HybridRetriever, hits: Sequence[Hit], lang: str,
                      vector: np.ndarray) -> tuple[list[Hit], str]:
    """``hits`` moved into ``lang``'s edition (Japanese where it lacks a section), renumbered, and
    the note saying what came from where."""
    target = lang if lang in retriever.version.manifest.languages else BASE
    out: list[Hit] = []
    fallback: list[str] = []
    for hit in hits:
        found = in_edition(retriever, hit.chunk, target, vector) or \
            (in_edition(retriever, hit.chunk, BASE, vector) if target != BASE else [])
        chunk = found[0] if found else hit.chunk
        if chunk.language != target:
            fallback.append(chunk.section_id or chunk.source_id)
        if all(h.chunk.chunk_id != chunk.chunk_id for h in out):
            out.append(replace(hit, rank=len(out) + 1, chunk=chunk))
    notes = []
    if target != lang:
        notes.append(f"There is no {lang} edition in this knowledge base; answering from {BASE}.")
    if fallback:
        notes.append(f"Not in the {target} edition: {', '.join(dict.fromkeys(fallback))} "
                     f"(see the {BASE} edition).")
    # Quote only the requested edition when it has any of the sections; else the fallbacks.
    in_target = [h for h in out if h.chunk.language == target]
    return [replace(h, rank=i) for i, h in enumerate(in_target or out, 1)], " ".join(notes)


def generated(extractive: Answer, hits: Sequence[Hit], lang: str | None, llm: LLMSettings,
              max_sentences: int) -> Answer:
    """The LLM's answer over the same passages, or ``extractive`` with the reason it was not used."""
    if not llm.base_url:
        raise ConfigError("no LLM endpoint configured: set KB_LLM_BASE_URL (and KB_LLM_MODEL, "
                          "KB_LLM_API_KEY) to an OpenAI-compatible server, or ask without --llm")
    language = lang or guess_language(extractive.query)
    try:
        sentences = generate(llm, extractive.query, hits, language, max_sentences)
    except LLMError as exc:
        note = f"Generated answer not used: {exc}; showing the quoted answer."
        return replace(extractive, note=" ".join(filter(None, (extractive.note, note))))
    return replace(extractive, sentences=tuple(sentences), sources=tuple(hits), method="generated",
                   blocks=blocks_of(sentences, hits))
