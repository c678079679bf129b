"""Embedding models: the Embedder interface, the model registry, and the backends behind it."""
from index.embed.base import Embedder
from index.embed.registry import MODELS, ModelSpec, load_embedder, model_identity, register_model

__all__ = ["Embedder", "MODELS", "ModelSpec", "load_embedder", "model_identity", "register_model"]
