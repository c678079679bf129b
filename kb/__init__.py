"""Madoguchi: cited search over the Living and Working Guidebook. ``from kb import KnowledgeBase``.

``KnowledgeBase`` is imported on first use: the stages (ingest, index, answer) import this
package's data model, and the facade imports the stages, so an eager import here would be a cycle.
"""
from kb.config import Settings
from kb.errors import (ConfigError, IndexMismatchError, IndexNotFoundError, IngestError, KBError,
                       ModelError, QueryError)
from kb.model import (Answer, AnswerSentence, Block, Chunk, Citation, Document, Hit, IngestReport,
                      PageIssue, SearchResult, SourceReport)

__all__ = [
    "KnowledgeBase", "Settings",
    "Answer", "AnswerSentence", "Block", "Chunk", "Citation", "Document", "Hit", "IngestReport",
    "PageIssue", "SearchResult", "SourceReport",
    "KBError", "ConfigError", "IngestError", "ModelError", "IndexNotFoundError", "IndexMismatchError",
    "QueryError",
]


def __getattr__(name: str):
    if name == "KnowledgeBase":
        from kb.facade import KnowledgeBase

        return KnowledgeBase
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
