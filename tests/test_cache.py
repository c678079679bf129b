"""The embedding cache: compact rows, one model call per distinct text, pruning, the format-1 migration."""
from __future__ import annotations

import json
import sqlite3

import numpy as np

from index import quantize
from index.cache import EmbeddingCache, embed_with_cache, text_key
from index.layout import IndexLayout
from kb import KnowledgeBase
from tests.conftest import JA, write_sources
from tests.fakes import FakeEmbedder


def test_quantize_moves_a_unit_vectors_scores_by_under_two_thousandths():
    x = np.random.default_rng(0).normal(size=(200, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    back = quantize.roundtrip(x)
    assert np.abs((back * x).sum(1) - 1).max() < 2e-3
    assert np.array_equal(quantize.roundtrip(back), back)  # storing what came back changes nothing
    blob = quantize.to_blobs(x[:1])[0]
    assert len(blob) == 4 + 384 and np.array_equal(quantize.from_blob(blob), back[0])
    assert np.array_equal(quantize.roundtrip(np.zeros((1, 8))), np.zeros((1, 8)))


def test_each_distinct_text_is_embedded_once_and_cached_vectors_equal_fresh_ones(tmp_path):
    embedder = FakeEmbedder()
    cache = EmbeddingCache(tmp_path / "c.sqlite", stamp=1)
    texts = ["在留カード", "住民税", "在留カード", "年金", "住民税"]
    fresh, embedded = embed_with_cache(embedder, texts, cache)
    assert sorted(embedded) == [0, 1, 3] and embedder.passage_calls == 3
    again, embedded = embed_with_cache(embedder, texts, cache)
    assert embedded == [] and np.array_equal(again, fresh) and np.array_equal(fresh[0], fresh[2])
    assert np.array_equal(fresh, quantize.roundtrip(embedder.embed_passages(texts)))
    cache.close()


def test_tokens_are_blobs_and_a_token_holding_the_separator_is_not_cached(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    cache.put_tokens("a/1", [(text_key("x"), ["在留", "カード"]), (text_key("y"), []), (text_key("z"), ["a\x00b"])])
    assert cache.get_tokens("a/1", [text_key(t) for t in "xyz"]) == {text_key("x"): ["在留", "カード"],
                                                                      text_key("y"): []}
    assert cache.get_tokens("b/1", [text_key("x")]) == {}  # another analyzer version
    cache.close()


def test_a_format1_cache_is_migrated_so_an_upgrade_embeds_nothing_again(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    vector = np.random.default_rng(1).normal(size=64).astype(np.float32)
    vector /= np.linalg.norm(vector)
    con = sqlite3.connect(path)
    con.executescript("""CREATE TABLE vectors (model TEXT NOT NULL, key TEXT NOT NULL, dim INTEGER NOT NULL,
        vector BLOB NOT NULL, PRIMARY KEY (model, key)) WITHOUT ROWID;
        CREATE TABLE tokens (analyzer TEXT NOT NULL, key TEXT NOT NULL, tokens TEXT NOT NULL,
        PRIMARY KEY (analyzer, key)) WITHOUT ROWID;""")
    hexkey = __import__("hashlib").sha256("在留カード".encode()).hexdigest()
    con.execute("INSERT INTO vectors VALUES (?, ?, 64, ?)", ("m", hexkey, vector.tobytes()))
    con.execute("INSERT INTO tokens VALUES (?, ?, ?)", ("a/1", hexkey, json.dumps(["在留", "カード"])))
    con.commit()
    con.close()
    cache = EmbeddingCache(path)
    got = cache.get("m", [text_key("在留カード")], 64)[text_key("在留カード")]
    assert np.abs(got - vector).max() < 5e-3
    assert cache.get_tokens("a/1", [text_key("在留カード")]) == {text_key("在留カード"): ["在留", "カード"]}
    tables = {r[0] for r in cache._con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"vectors", "tokens"}
    cache.close()


def test_sync_prunes_what_no_kept_version_uses(tmp_path, fake_embedder):
    src = write_sources(tmp_path / "src", {"ja": JA})
    index = tmp_path / "idx"
    KnowledgeBase.sync([src], index=index)
    path = src / "ja" / "01.md"
    for n in (1, 2):  # two edits: the first build's changed texts are then used by no kept version
        path.write_text(JA.replace("14日以内", f"{14 + n}日以内"), encoding="utf-8")
        KnowledgeBase.sync([src], index=index)
    assert len(list(IndexLayout(index).versions.iterdir())) == 2
    cache = EmbeddingCache(index / "embeddings.sqlite")
    texts = cache.counts()
    cache.close()
    fresh = tmp_path / "fresh"  # the two kept versions' texts, built from nothing
    path.write_text(JA.replace("14日以内", "15日以内"), encoding="utf-8")
    KnowledgeBase.sync([src], index=fresh)
    path.write_text(JA.replace("14日以内", "16日以内"), encoding="utf-8")
    KnowledgeBase.sync([src], index=fresh)
    cache = EmbeddingCache(fresh / "embeddings.sqlite")
    assert texts == cache.counts()
    cache.close()
    path.write_text(JA, encoding="utf-8")  # back to the first text: its pruned vectors are embedded again
    assert KnowledgeBase.sync([src], index=index).embedded > 0
