"""The ONNX Runtime embedder: onnxruntime + tokenizers + numpy, no torch on this path.

Importing torch/sentence-transformers costs 4-5 s per process, which a desk query should not pay;
onnxruntime with int8 weights answers from a cold process in about a second and is 2-3x faster
per passage. The folder it reads is written once by ``index.embed.onnx_export``.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from kb.errors import ModelError
from kb.files import read_json

MODEL_FILE = "model.onnx"
DATA_FILE = "model.data"  # the model's large initializers, memory-mapped by onnxruntime
CONFIG_FILE = "onnx_config.json"


# A call embedding this many texts is part of a build: worth loading the batch tokenizer (~0.5-1 s).
BULK_TEXTS = 64


def _fast_tokenizer(folder: Path, max_length: int) -> Callable[[list[str]], list[list[int]]]:
    """``tokenizers``' encoder from tokenizer.json, truncating at ``max_length``."""
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises a bare Exception for a bad file
        raise ModelError(f"cannot load the tokenizer in {folder}: {exc}") from None
    # Configured once here: the Tokenizer is then only read, so concurrent encodes are safe.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return lambda texts: [e.ids for e in tokenizer.encode_batch(texts)]


class OnnxEmbedder:
    """The Embedder protocol on onnxruntime + tokenizers + numpy (no torch on this path)."""

    def __init__(self, folder: Path, model_id: str, *, threads: int = 1, batch_size: int = 32) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # keep within the thread budget
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelError(f"the ONNX backend needs onnxruntime ({exc})") from None
        self._ort = onnxruntime
        folder = Path(folder)
        config = read_json(folder / CONFIG_FILE, error=ModelError)
        if not config or not (folder / MODEL_FILE).is_file():
            raise ModelError(f"{folder} is not an exported ONNX model (no {CONFIG_FILE} or {MODEL_FILE})")
        self.folder, self.model_id, self.batch_size = folder, model_id, batch_size
        self.dim = int(config["dim"])
        self._inputs = list(config["inputs"])
        self._pad_id = int(config.get("pad_token_id", 0))
        self._prompts = {"query": "", "passage": "", **config.get("prompts", {})}
        # int8 dynamic quantisation scales activations per tensor, i.e. over the whole padded batch,
        # so a text's vector would depend on its batch mates (cosine 0.992-0.998 to the same text
        # alone). Running quantised models one text per call keeps vectors reproducible, and was
        # measured as fast or faster on CPU (no padding work). fp32 models batch exactly.
        self._per_text = bool(config.get("quantized"))
        self._max_length = int(config["max_seq_length"])
        self._encode, self._pure_python = self._tokenizer(folder, self._max_length)
        self._bulk: Callable[[list[str]], list[list[int]]] | None | bool = None  # see _encode_many
        self._lock = threading.Lock()  # guards session swaps and the batch tokenizer's load; run() is thread-safe
        self._threads = 0
        self._pool: ThreadPoolExecutor | None = None
        self.set_threads(threads)

    @staticmethod
    def _tokenizer(folder: Path, max_length: int) -> tuple[Callable[[list[str]], list[list[int]]], bool]:
        """(texts -> token id lists, whether it is the plain-Python one). The default model's tokenizer
        runs in plain Python from its tables (``index.embed.unigram``: loads in 0.13 s and ~60 MB where
        ``tokenizers`` takes 0.5 s and ~290 MB; identical ids on 34k guidebook and statute texts);
        other models use tokenizer.json."""
        from index.embed.unigram import TABLES_FILE, E5Tokenizer

        if (folder / TABLES_FILE).is_file():
            tables = E5Tokenizer(folder / TABLES_FILE, max_length)
            return (lambda texts: [tables.encode(t) for t in texts]), True
        return _fast_tokenizer(folder, max_length), False

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        """Token ids; a build's batches go through ``tokenizers``' batch encoder (Rust, on every core)
        once it is worth loading: the plain-Python tokenizer costs ~1-2 ms of CPU a text, a tenth of
        a build's embedding work. The same ids either way."""
        if self._pure_python and len(texts) >= BULK_TEXTS:
            with self._lock:
                if self._bulk is None:
                    try:
                        self._bulk = _fast_tokenizer(self.folder, self._max_length)
                    except ModelError:  # no tokenizers, or no tokenizer.json: stay in Python
                        self._bulk = False
            if self._bulk:
                return self._bulk(texts)
        return self._encode(texts)

    def _new_session(self, threads: int):
        ort = self._ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # ORT's load-time warnings are not the desk's business
        # Spinning pool threads gained ~25% on an idle machine but halved throughput when another
        # process competed for the cores (the desk's usual state); threads=1 has no pool at all.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(self.folder / MODEL_FILE), options,
                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load the ONNX model in {self.folder}: {str(exc).splitlines()[0]}") from None

    def set_threads(self, threads: int) -> None:
        """Rebuild the session when the thread count changes: 1 for queries, more for ingestion.

        A quantised model runs one text per call, so ``threads`` texts run at once, each on one
        thread (measured on the sample's passages and sentences, 2 cores: 28 -> 35 texts/s against
        one call at a time on 2 intra-op threads, whose sync costs more than short texts give back)."""
        threads = max(1, int(threads))
        with self._lock:
            if threads != self._threads:
                self._session = self._new_session(1 if self._per_text else threads)
                self._threads = threads
                if self._pool is not None:
                    self._pool.shutdown()
                self._pool = ThreadPoolExecutor(threads, thread_name_prefix="embed") \
                    if self._per_text and threads > 1 else None

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        """Embed one batch of token id lists: pad, run, mean-pool over real tokens, L2-normalise."""
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, seq in enumerate(ids):
            input_ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        session = self._session  # one read: a concurrent set_threads swaps the attribute, not this object
        hidden = session.run(["last_hidden_state"], feeds)[0]
        summed = np.einsum("bld,bl->bd", hidden, mask.astype(np.float32))
        pooled = summed / mask.sum(axis=1, keepdims=True).astype(np.float32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _embed(self, texts: Sequence[str], prompt: str,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        ids = self._encode_many([prompt + t for t in texts])
        # Similar lengths in one batch waste less work on padding; results go back by index.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            pool = self._pool
            if self._per_text and pool is not None and len(batch) > 1:
                out[batch] = list(pool.map(lambda i: self._run([ids[i]])[0], batch))
            elif self._per_text:
                for i in batch:
                    out[i] = self._run([ids[i]])[0]
            else:
                out[batch] = self._run([ids[i] for i in batch])
            if progress:
                progress(len(batch))
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self._prompts["query"])

    def embed_passages(self, texts: Sequence[str], *,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self._embed(texts, self._prompts["passage"], progress)
