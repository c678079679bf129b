"""The learned re-ranker's parts: features by hand, sentence vectors, postings coverage, and the
retriever using them. Retrieval quality itself is measured by bench/fit_reranker.py and checked
with the real model in tests/test_real_model.py."""
import numpy as np
import pytest

from answer.rerank import FEATURES, WEIGHTS, feature_matrix, rerank
from index import quantize
from index.keyword import KeywordIndex
from index.sentences import SentenceVectors, sentence_texts
from ingest.chunker import MIN_SENTENCE_CHARS as MIN_CHARS
from kb.errors import IndexCorruptError
from kb.model import Chunk
from tests.fakes import FakeEmbedder


def chunk(i, text, title="ガイド", section=("第1章",)):
    return Chunk(f"c{i}", "src", title, "ja", "", text, section)


def test_feature_matrix_by_hand():
    legs = {"keyword": (np.array([7, 3]), np.array([4.0, 2.0])),
            "bigram": (np.array([3, 9, 7]), np.array([6.0, 1.0, 3.5]))}
    x = feature_matrix([3, 7, 5], legs, np.array([.8, .7, .6]), np.array([.9, .85, .6]), np.array([1, .5, 0]))
    assert x.shape == (3, len(FEATURES))
    # keyword: min-max over (4, 2) -> row 7: 1, row 3: 0, row 5 absent: 0; bigram over (6, 1, 3.5)
    assert x[:, 0].tolist() == [0.0, 1.0, 0.0]
    assert x[:, 1].tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert np.allclose(x[:, 2:], [[.8, .9, 1], [.7, .85, .5], [.6, .6, 0]])


def test_rerank_orders_by_the_linear_score_and_keeps_ties_stable():
    x = np.array([[0, 0, 0, 0, 1.0], [0, 0, 0, 0, 2.0], [0, 0, 0, 0, 2.0]])
    w = np.array([0, 0, 0, 0, 1.0])
    assert [r for r, _ in rerank([10, 11, 12], x, w)] == [11, 12, 10]
    assert rerank([10, 11, 12], x, w)[0][1] == 2.0


def test_shipped_weights_prefer_the_better_sentence_match():
    # Same legs and coverage; the candidate whose best sentence matches better must win.
    x = np.array([[1, 1, .85, .86, .5], [1, 1, .85, .90, .5]])
    assert [r for r, _ in rerank([0, 1], x)] == [1, 0]
    assert WEIGHTS[FEATURES.index("sentence")] > 0 and WEIGHTS[FEATURES.index("coverage")] > 0


def test_sentence_texts_keep_verbatim_spans_and_offsets():
    chunks = [chunk(0, "在留カードを紛失した。14日以内に申請します。短い。"), chunk(1, "※"),
              chunk(2, "引っ越したら届け出ます。")]
    texts, spans, offsets = sentence_texts(chunks)
    assert offsets.tolist() == [0, 2, 2, 3]  # "短い。" and "※" are shorter than MIN_CHARS
    for (a, b), text, owner in zip(spans.tolist(), texts, [0, 0, 2]):
        sentence = chunks[owner].text[a:b]
        assert len(sentence) >= MIN_CHARS and text == chunks[owner].heading() + "\n" + sentence


def test_sentence_vectors_round_trip_and_best_cosine(tmp_path):
    embedder = FakeEmbedder()
    chunks = [chunk(0, "在留カードを紛失した。ごみは決められた日に出します。"), chunk(1, "※")]
    texts, spans, offsets = sentence_texts(chunks)
    vectors = embedder.embed_passages(texts)
    built = SentenceVectors.of_vectors(vectors, spans, offsets)
    built.save(tmp_path)
    loaded = SentenceVectors.load(tmp_path, embedder.dim, len(chunks))
    assert loaded.codes.dtype == np.int8 and loaded.offsets.tolist() == [0, 2, 2]
    assert np.array_equal(loaded.codes, built.codes) and np.array_equal(loaded.scales, built.scales)
    stored = loaded.of(0)[1]
    assert np.array_equal(stored, quantize.roundtrip(vectors)) and np.abs(stored - vectors).max() < 5e-3
    q = embedder.embed_queries(["ごみは決められた日に出します。"])[0]
    best = loaded.best_cosine([0, 1], q, default=np.array([0.1, 0.2]))
    assert best[0] == pytest.approx(float((stored @ q).max()), abs=1e-6) and best[1] == pytest.approx(0.2)
    with pytest.raises(IndexCorruptError, match="rebuild"):
        SentenceVectors.load(tmp_path, embedder.dim, 3)  # another index's chunk count
    for name, junk in (("sentence_spans.npz", b"not a zip"), ("sentences.npy", b"not an array")):
        (tmp_path / name).write_bytes(junk)
        with pytest.raises(IndexCorruptError, match="rebuild"):
            SentenceVectors.load(tmp_path, embedder.dim, 2)
        (tmp_path / name).unlink()
        with pytest.raises(IndexCorruptError, match=f"no {name}"):
            SentenceVectors.load(tmp_path, embedder.dim, 2)
        built.save(tmp_path)


def test_coverage_from_postings_matches_tokenising_the_text():
    texts = ["在留カードをなくした", "引っ越しをした", "カードの更新をする"]
    keyword = KeywordIndex.build(texts)
    tokens = keyword.query_tokens("在留カードの更新")
    weights = dict(zip(tokens, keyword.idf(tokens)))
    from index.tokenize import tokenize
    expected = [sum(w for t, w in weights.items() if t in set(tokenize(text))) / sum(weights.values())
                for text in texts]
    assert keyword.coverage(tokens, [0, 1, 2]).tolist() == pytest.approx(expected)
    assert keyword.coverage(tokens, [2])[0] == pytest.approx(expected[2])
    assert keyword.coverage([], [0]).tolist() == [0.0]
    assert 0 < expected[2] < 1 and expected[1] == 0


def test_unstored_sentence_spans_are_embedded_once_and_the_memo_is_bounded(index, fake_embedder, monkeypatch):
    import answer.retrieve as retrieve
    from index.sentences import sentence_text
    from kb import KnowledgeBase

    kb = KnowledgeBase.open(index)
    retriever = kb._retriever
    row = 0
    c = retriever.version.store.chunks([row])[row]
    stored = [(c, int(a), int(b)) for a, b in retriever.version.sentences.of(row)[0]]
    before = fake_embedder.passage_calls
    assert np.allclose(retriever.sentence_vectors(stored), retriever.version.sentences.of(row)[1])
    assert fake_embedder.passage_calls == before  # stored spans: nothing embedded
    unstored = [(c, 0, 3), (c, 1, 4), (c, 0, 3)]
    first = retriever.sentence_vectors(unstored)
    assert fake_embedder.passage_calls == before + 2  # the repeated span once
    assert np.allclose(first, fake_embedder.embed_passages([sentence_text(*s) for s in unstored]))
    calls = fake_embedder.passage_calls
    assert np.array_equal(retriever.sentence_vectors(unstored), first) and fake_embedder.passage_calls == calls
    monkeypatch.setattr(retrieve, "SPAN_MEMO", 2)
    retriever.sentence_vectors([(c, 2, 5), (c, 3, 6)])
    assert len(retriever._span_vectors) <= 2
    kb.close()
