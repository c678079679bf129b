"""Madoguchi: cited search over the Living and Working Guidebook. ``from kb import KnowledgeBase``.

``KnowledgeBase`` is imported on first use: the stages (ingest, index, answer) import this
package's data model, and the facade imports the stages, so an eager import here would be a cycle
(and ``import kb`` stays light). ``kb.offline`` comes first: it turns off the telemetry of libraries
the stages import later; ``kb.threads`` then keeps numpy's BLAS on one thread.
"""
import kb.offline  # noqa: F401  (first: before any stage imports onnxruntime)
import kb.threads  # noqa: F401  (before any stage imports numpy)
from kb.config import Settings
from kb.errors import (ConfigError, FetchError, IndexCorruptError, IndexLockedError, IndexMismatchError,
                       IndexNotFoundError, IndexWriteError, IngestError, KBError, ModelError, QueryError)
from kb.model import Answer, AnswerBlock, AnswerSentence, Block, Chunk, Citation, Document, Hit, PageIssue, SearchResult
from kb.reports import IngestReport, SourceReport, SourceStatus, Status, SyncChanges, SyncReport

__all__ = [
    "KnowledgeBase", "Settings",
    "Answer", "AnswerBlock", "AnswerSentence", "Block", "Chunk", "Citation", "Document", "Hit", "IngestReport",
    "PageIssue", "SearchResult", "SourceReport", "SourceStatus", "Status", "SyncChanges", "SyncReport",
    "KBError", "ConfigError", "FetchError", "IngestError", "ModelError", "IndexNotFoundError",
    "IndexMismatchError", "IndexCorruptError", "IndexWriteError", "IndexLockedError", "QueryError",
]


def __getattr__(name: str):
    if name == "KnowledgeBase":
        from kb.facade import KnowledgeBase

        return KnowledgeBase
    raise AttributeError(f"module 'kb' has no attribute {name!r}")
