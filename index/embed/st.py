"""Any sentence-transformers model as an Embedder (the torch backend)."""
from __future__ import annotations

import os
import threading
from typing import Callable, Sequence

import numpy as np

from kb.errors import ModelError


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; uses its ``query``/``passage`` prompts when it defines them."""

    def __init__(self, name_or_path: str, model_id: str, *, threads: int = 1, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here; fail fast instead of retrying
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import torch  # noqa: F401 - checked here so the error names the install step
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(f"sentence-transformers is not installed ({exc}); pip install -e .") from None
        self.set_threads(threads)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter the desk's terminal
            self._model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as exc:  # the library raises many types for a missing/bad model
            raise ModelError(f"cannot load embedding model {name_or_path!r}: {str(exc).splitlines()[0]}") from None
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else ("document" if "document" in prompts else None)
        self.model_id = model_id
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not documented as thread-safe for inference

    def set_threads(self, threads: int) -> None:
        """Torch's thread count is per process: 1 for interactive queries, more for ingestion."""
        import torch

        torch.set_num_threads(threads)

    def _encode(self, texts: Sequence[str], prompt_name: str | None) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(list(texts), prompt_name=prompt_name, batch_size=self.batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def embed_passages(self, texts: Sequence[str], *,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = self.batch_size * 4
        for start in range(0, len(texts), step):
            batch = texts[start:start + step]
            out[start:start + len(batch)] = self._encode(batch, self._passage_prompt)
            if progress:
                progress(len(batch))
        return out
