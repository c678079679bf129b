"""The one interface every embedder implements (e5-style models prefix queries and passages
differently, hence two methods). Vectors are L2-normalised float32, so inner product is cosine."""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    model_id: str  # recorded in the index manifest; a different id at query time is an error
    dim: int
    batch_size: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], *,
                       progress: Callable[[int], None] | None = None) -> np.ndarray: ...
