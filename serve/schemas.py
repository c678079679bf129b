"""Request bodies and, for the OpenAPI docs, the response schemas.

Responses are the library's own ``to_dict()`` (the ``kb search --json`` / ``kb ask --json`` schema)
sent as they are; the models below only document them, and tests validate real responses against
them (``extra="forbid"``) so the docs cannot drift from ``kb.model``.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from serve.config import MAX_K

LANG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$"  # ja, ja-easy, zh-Hans, pt-BR ...
Language = Field(default=None, max_length=24, pattern=LANG_PATTERN,
                 description="Edition language code: ja, ja-easy, en, vi, zh-Hans, pt, ne, tl, th ...")
LanguageCode = Annotated[str, Field(max_length=24, pattern=LANG_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    query: str = Field(..., min_length=1, description="The question, in any language.")
    k: Optional[int] = Field(default=None, ge=1, le=MAX_K, description="How many passages (default 5).")
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    languages: Optional[list[LanguageCode]] = Field(default=None, min_length=1, max_length=20,
                                           description="Search only these editions (default: the "
                                           "question's language and Japanese).")
    lang: Optional[str] = Language  # shorthand for languages=[lang]


class AskRequest(_Strict):
    query: str = Field(..., min_length=1, description="The consultation question, in any language.")
    k: Optional[int] = Field(default=None, ge=1, le=MAX_K, description="Passages to consider (default 5).")
    lang: Optional[str] = Language  # answer from this edition; missing sections fall back to Japanese, with a note


class CitationOut(_Strict):
    chunk_id: str
    source_id: str
    title: str
    language: str
    release: str
    edition: str = Field(description="Deprecated: the same as release (its former name), kept for one release")
    section_path: list[str]
    section_id: Optional[str]
    page_label: Optional[str]
    page_index: Optional[int]
    path: str
    url: Optional[str]
    label: str


class HitOut(_Strict):
    rank: int
    score: float
    dense_score: Optional[float]
    keyword_score: Optional[float]
    fused_score: Optional[float]
    rerank_score: Optional[float]
    text: str
    citation: CitationOut


class SearchResponse(_Strict):
    query: str
    hits: list[HitOut]
    timings_ms: dict[str, float]


class SentenceOut(_Strict):
    text: str
    citations: list[int]


class SourceOut(HitOut):
    number: int


class BlockOut(_Strict):
    source: int
    section_id: Optional[str]
    title: str
    aspect: str
    sentences: list[SentenceOut]
    also_in: list[str]


class AskResponse(_Strict):
    query: str
    abstained: bool
    verdict: str
    note: str
    support: float
    method: str
    language: str
    edition: str
    sentences: list[SentenceOut]
    blocks: list[BlockOut]
    sources: list[SourceOut]
    timings_ms: dict[str, float]


class ErrorResponse(BaseModel):
    error: str
    request_id: Optional[str] = None
