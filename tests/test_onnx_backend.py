"""index/embed/onnx_export.py and onnx_runtime.py: export + quantise once, then embed with onnxruntime alone.

A tiny random BERT checks export, caching and token_type_ids quickly (unit); the real default model
checks the int8 and fp32 exports against sentence-transformers fp32 (integration).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.embed.onnx_export import ensure_onnx, export_onnx, is_complete
from index.embed.onnx_runtime import OnnxEmbedder
from index.embed.registry import export_name
from tests.conftest import MODEL_CACHE, ROOT

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx", reason="exporting needs the onnx package")

TEXTS = {  # one or two per script the desk meets; the last is far past 512 tokens (truncation)
    "ja": "在留カードをなくしたときは、14日以内に警察に届け出てください。",
    "easy-ja": "ざいりゅうかーどを なくしたら どうすれば いいですか",
    "en": "How do I enroll in National Health Insurance?",
    "vi": "Tôi cần làm gì khi chuyển nhà ở Nhật Bản?",
    "zh": "外国人在日本如何开设银行账户？",
    "ne": "जापानमा स्वास्थ्य बीमा कसरी लिने?",
    "th": "ฉันจะต่ออายุวีซ่าในญี่ปุ่นได้อย่างไร",
    "my": "ဂျပန်နိုင်ငံတွင် အလုပ်ရှာဖွေနည်း",
    "pt": "Como faço para pagar o imposto de residente?",
    "ja-long": "国民健康保険に加入する手続きは、住所地の市区町村役場で行います。" * 40,
}


# ----------------------------------------------------------------------------- tiny model (unit)
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A random 2-layer BERT with a word-level tokenizer and segment embeddings, no tokenizer_config."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    folder = tmp_path_factory.mktemp("tiny")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"w{i}" for i in range(60)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=16,
                                     type_vocab_size=2, pad_token_id=0)
    transformers.BertModel(config).save_pretrained(str(folder))
    return folder


def _torch_mean_pool(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(16)
    model = BertModel.from_pretrained(str(folder)).eval()
    out = []
    for text in texts:
        ids = torch.tensor([tok.encode(text).ids])
        with torch.no_grad():
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                           token_type_ids=torch.zeros_like(ids)).last_hidden_state[0]
        v = hidden.mean(0).numpy()
        out.append(v / np.linalg.norm(v))
    return np.stack(out)


def test_tiny_export_matches_torch_and_feeds_token_type_ids(tiny_model, tmp_path):
    out = export_onnx(tiny_model, tmp_path / "tiny-fp32", quantize=False)
    config = json.loads((out / "onnx_config.json").read_text())
    assert config["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert config["max_seq_length"] == 16 and config["dim"] == 32 and config["pooling"] == "mean"
    assert config["prompts"] == {"query": "query: ", "passage": "passage: "}  # no ST config: e5 default
    assert sorted(p.name for p in out.iterdir()) == [".complete", "model.onnx", "onnx_config.json",
                                                     "tokenizer.json"]
    texts = ["w1 w2 w3", "w4", "w5 w6 w7 w8 w9 " * 5]  # the last is truncated at 16 tokens
    emb = OnnxEmbedder(out, "tiny")
    emb._prompts = {"query": "", "passage": ""}  # compare the raw transformer
    got = emb.embed_passages(texts)
    assert got.dtype == np.float32 and got.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert np.min(np.sum(got * _torch_mean_pool(tiny_model, texts), axis=1)) > 0.99999


def test_tiny_ensure_is_cached_and_redone_when_the_source_changes(tiny_model, tmp_path, monkeypatch):
    import index.embed.onnx_export as backend

    calls = []
    real = backend.export_onnx
    monkeypatch.setattr(backend, "export_onnx", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    first = ensure_onnx(tmp_path, tiny_model, "tiny-int8")
    assert ensure_onnx(tmp_path, tiny_model, "tiny-int8") == first and len(calls) == 1
    assert not is_complete(first, tiny_model, quantize=False)  # the fp32 flavour is another folder
    weights = tiny_model / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # a re-converted source has a new mtime
    ensure_onnx(tmp_path, tiny_model, "tiny-int8")
    assert len(calls) == 2
    assert not list(tmp_path.glob(".tiny-int8.tmp-*")) and not list(tmp_path.glob(".tiny-int8.old-*"))


def test_tiny_concurrent_callers_export_once(tiny_model, tmp_path, monkeypatch):
    import threading

    import index.embed.onnx_export as backend

    calls = []
    real = backend.export_onnx
    monkeypatch.setattr(backend, "export_onnx", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    (tmp_path / ".tiny-int8.tmp-stale").mkdir()  # as a killed export leaves it
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_onnx(tmp_path, tiny_model, "tiny-int8")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3
    assert not (tmp_path / ".tiny-int8.tmp-stale").exists()


def test_tiny_int8_export_with_the_table_spliced_in_equals_quantising_the_whole_graph(tiny_model, tmp_path):
    """The export quantises the word-embedding table outside the graph (to keep the first use's peak
    memory low); the result must be what quantize_dynamic makes of the whole graph."""
    import onnx
    import onnxruntime as ort

    from index.embed.onnx_export import _export_graph, _quantize

    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    _export_graph(tiny_model, inputs, tmp_path / "whole.onnx")
    _quantize(tmp_path / "whole.onnx", tmp_path / "whole-int8.onnx")
    spliced = export_onnx(tiny_model, tmp_path / "spliced", quantize=True) / "model.onnx"

    def tables(path: Path) -> dict[str, bytes]:
        model = onnx.load(str(path))
        return {i.name: onnx.numpy_helper.to_array(i).tobytes() for i in model.graph.initializer
                if "word_embeddings" in i.name}

    whole = tables(tmp_path / "whole-int8.onnx")
    assert len(whole) == 3 and tables(spliced) == whole  # codes (64 rows, not the stand-in's 16), scale, zero point
    ids = np.array([[2, 40, 63, 17, 3], [2, 5, 3, 0, 0]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": (ids > 0).astype(np.int64), "token_type_ids": np.zeros_like(ids)}
    expected = ort.InferenceSession(str(tmp_path / "whole-int8.onnx")).run(None, feed)[0]
    np.testing.assert_array_equal(ort.InferenceSession(str(spliced)).run(None, feed)[0], expected)


def test_empty_input_and_progress(tiny_model, tmp_path):
    emb = OnnxEmbedder(ensure_onnx(tmp_path, tiny_model, "tiny-int8"), "tiny", batch_size=2)
    assert emb.embed_queries([]).shape == (0, 32)
    seen: list[int] = []
    emb.embed_passages([f"w{i}" for i in range(5)], progress=seen.append)
    assert seen == [2, 2, 1]


# ----------------------------------------------------------------------------- real model
@pytest.fixture(scope="module")
def real():
    """The converted default model, its int8 and fp32 exports (all cached in the shared model cache)."""
    from index.embed.e5convert import ensure_converted

    st_folder = ensure_converted(MODEL_CACHE)
    int8 = ensure_onnx(MODEL_CACHE, st_folder, export_name(st_folder, "onnx-int8"))
    fp32 = ensure_onnx(MODEL_CACHE, st_folder, export_name(st_folder, "onnx"), quantize=False)
    return st_folder, int8, fp32


@pytest.fixture(scope="module")
def torch_vectors(real):
    """sentence-transformers fp32 vectors of TEXTS as queries and as passages: the reference."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(real[0]), device="cpu")
    texts = list(TEXTS.values())
    return {kind: model.encode(texts, prompt_name=kind, normalize_embeddings=True, convert_to_numpy=True)
            for kind in ("query", "passage")}


def _cosines(emb: OnnxEmbedder, reference: dict) -> dict[str, np.ndarray]:
    texts = list(TEXTS.values())
    return {"query": np.sum(emb.embed_queries(texts) * reference["query"], axis=1),
            "passage": np.sum(emb.embed_passages(texts) * reference["passage"], axis=1)}


@pytest.mark.integration
def test_int8_close_to_sentence_transformers_fp32(real, torch_vectors):
    cos = _cosines(OnnxEmbedder(real[1], "int8"), torch_vectors)
    for kind, values in cos.items():
        print(f"\nint8 vs torch fp32 ({kind}): " + ", ".join(f"{k} {v:.4f}" for k, v in zip(TEXTS, values))
              + f"; mean {values.mean():.4f}")
        assert values.min() > 0.98 and values.mean() > 0.99, dict(zip(TEXTS, values))


@pytest.mark.integration
def test_fp32_onnx_matches_sentence_transformers(real, torch_vectors):
    cos = _cosines(OnnxEmbedder(real[2], "fp32"), torch_vectors)
    for kind, values in cos.items():
        print(f"\nfp32 ONNX vs torch fp32 ({kind}): min {values.min():.6f}")
        assert values.min() > 0.999, dict(zip(TEXTS, values))


@pytest.mark.integration
def test_query_and_passage_prefixes_differ(real):
    emb = OnnxEmbedder(real[1], "int8")
    config = json.loads((real[1] / "onnx_config.json").read_text())
    assert config["prompts"] == {"query": "query: ", "passage": "passage: "}
    text = [TEXTS["ja"]]
    assert float(emb.embed_queries(text)[0] @ emb.embed_passages(text)[0]) < 0.999


@pytest.mark.integration
def test_retrieval_sanity(real):
    passages = [
        "在留カードを紛失したときは、紛失を知った日から14日以内に出入国在留管理局で再交付を申請してください。",
        "国民健康保険には、住所地の市区町村役場で加入の手続きをします。",
        "ごみは種類ごとに分けて、決められた曜日の朝に集積所に出してください。",
        "所得税の確定申告は、毎年2月16日から3月15日までに税務署で行います。",
        "子どもが生まれたら、14日以内に市区町村役場に出生届を提出してください。",
    ]
    queries = ["在留カードをなくしました", "How do I join National Health Insurance?",
               "ごみの出し方を教えてください", "確定申告の期間はいつですか", "赤ちゃんが生まれたときの届出"]
    emb = OnnxEmbedder(real[1], "int8")
    scores = emb.embed_queries(queries) @ emb.embed_passages(passages).T
    assert list(scores.argmax(axis=1)) == list(range(5)), np.round(scores, 3)


@pytest.mark.integration
def test_query_path_imports_no_torch(real):
    code = (
        "import json, sys\n"
        "from index.embed.onnx_runtime import OnnxEmbedder\n"
        f"emb = OnnxEmbedder({str(real[1])!r}, 'x')\n"
        "assert emb.embed_queries(['在留カード']).shape == (1, 384)\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'onnx'}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


@pytest.mark.integration
def test_ensure_onnx_is_a_no_op_the_second_time(real, monkeypatch):
    import index.embed.onnx_export as backend

    before = (real[1] / "model.onnx").stat().st_mtime_ns
    monkeypatch.setattr(backend, "export_onnx", lambda *a, **kw: pytest.fail("exported again"))
    assert ensure_onnx(MODEL_CACHE, real[0], real[1].name) == real[1]
    assert (real[1] / "model.onnx").stat().st_mtime_ns == before


@pytest.mark.integration
@pytest.mark.parametrize("flavour", [1, 2], ids=["int8", "fp32"])
def test_a_batch_equals_each_text_alone(real, flavour):
    emb = OnnxEmbedder(real[flavour], "x", batch_size=4)
    texts = list(TEXTS.values())
    together = emb.embed_passages(texts)
    alone = np.concatenate([emb.embed_passages([t]) for t in texts])
    assert np.min(np.sum(together * alone, axis=1)) > 0.9999


@pytest.mark.integration
def test_a_build_batch_tokenized_by_tokenizers_gives_the_same_vectors(real):
    """Large calls (a build's) switch to tokenizers' batch encoder; the vectors must not change."""
    from index.embed.onnx_runtime import BULK_TEXTS

    emb = OnnxEmbedder(real[1], "x", threads=2)
    texts = [f"{t} ({i})" for i in range(BULK_TEXTS // len(TEXTS) + 1) for t in TEXTS.values()]
    assert len(texts) >= BULK_TEXTS and emb._bulk is None
    together = emb.embed_passages(texts)
    assert emb._bulk  # the batch encoder was loaded
    np.testing.assert_array_equal(together, np.concatenate([emb.embed_passages([t]) for t in texts]))


@pytest.mark.integration
def test_set_threads_and_concurrent_queries(real):
    from concurrent.futures import ThreadPoolExecutor

    emb = OnnxEmbedder(real[1], "x", threads=1)
    texts = list(TEXTS.values())
    expected = emb.embed_queries(texts)
    emb.set_threads(2)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: emb.embed_queries([texts[i % len(texts)]])[0], range(20)))
    for i, vector in enumerate(results):
        assert float(vector @ expected[i % len(texts)]) > 0.9999


@pytest.mark.integration
def test_the_plain_python_tokenizer_cuts_like_tokenizers(real):
    """Same ids as the tokenizers pipeline on every passage and sentence of the sample and the
    special texts above (the ONNX path uses the tables; torch uses tokenizer.json)."""
    from tokenizers import Tokenizer

    from index.embed.unigram import TABLES_FILE, E5Tokenizer
    from index.sentences import sentence_texts
    from index.version import indexed_text
    from ingest.chunker import chunk_document
    from ingest.loader import collect, load

    assert (real[1] / TABLES_FILE).is_file() and (real[2] / TABLES_FILE).is_file()
    ours = E5Tokenizer(real[1] / TABLES_FILE, 512)
    theirs = Tokenizer.from_file(str(real[0] / "tokenizer.json"))
    theirs.no_padding()
    theirs.enable_truncation(max_length=512)
    chunks = [c for f in collect([ROOT / "data" / "guidebook"]) for c in chunk_document(load(f), 400, 80)]
    texts = [f"passage: {indexed_text(c)}" for c in chunks] + [f"passage: {t}" for t in sentence_texts(chunks)[0]]
    # Every embedded text starts with its prompt ("query: ", "passage: "); a text that starts with a
    # special token is cut differently by tokenizers, which splits specials off before normalising.
    texts += [f"query: {t}" for t in [*TEXTS.values(), "  a  b  ", "<s> </s> <unk> <mask>", "😀👍🏽 e\u0301"]] + [""]
    expected = [e.ids for e in theirs.encode_batch(texts)]
    assert [ours.encode(t) for t in texts] == expected
