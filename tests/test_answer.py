"""Extractive answers: every sentence is a verbatim span of the passage it cites; honest abstention."""
import numpy as np
import pytest

from answer.compose import compose_answer
from answer.extract import candidates, select, Candidate
from answer.legs import Query
from index.keyword import KeywordIndex
from kb.config import AnswerSettings
from kb.model import Chunk, Hit, SearchResult
from tests.fakes import FakeEmbedder

TEXTS = [
    "在留カードをなくしたときは、まず警察に届け出ます。紛失を知った日から14日以内に再交付を申請します。手数料はかかりません。",
    "引っ越しをしたら、14日以内に新しい市区町村で転入届を出します。在留カードを持って行きます。",
    "ごみは決められた曜日の朝に出します。分別のルールは市区町村によって異なります。",
]


def hit(i: int, text: str, start: int = 0, source: str = "ja/01.md", dense: float = 0.9) -> Hit:
    chunk = Chunk(f"c{i}", source, "ガイド", "ja", "s", text, (f"{i + 1} 節",), f"1.{i + 1}",
                  char_start=start, char_end=start + len(text))
    return Hit(i + 1, 1.0 - i / 10, chunk, dense_score=dense, keyword_score=1.0)


def spans_embedder(embedder):
    """What the retriever gives extraction: vectors of (chunk, start, end) sentence spans."""
    return lambda spans: embedder.embed_passages([c.text[a:b] for c, a, b in spans])


@pytest.fixture
def parts():
    embedder = FakeEmbedder()
    keyword = KeywordIndex.build(TEXTS)
    hits = tuple(hit(i, t, start=1000 * i) for i, t in enumerate(TEXTS))
    return embedder, keyword, hits


def settings(threshold: float) -> AnswerSettings:
    return AnswerSettings(passages=5, max_sentences=4, abstain_below=threshold, abstain_below_fused=threshold)


def answer_for(query, parts, threshold=0.0):
    embedder, keyword, hits = parts
    result = SearchResult(query, hits)
    prepared = Query(query, keyword.query_tokens(query), embedder.embed_queries([query])[0])
    return compose_answer(result, prepared, spans_embedder(embedder), keyword, settings(threshold))


def test_every_answer_sentence_is_a_verbatim_span_of_its_cited_source(parts):
    answer = answer_for("在留カードを紛失したら何日以内に再交付を申請しますか", parts)
    assert not answer.abstained and answer.sentences
    for sentence in answer.sentences:
        assert sentence.citations
        for n in sentence.citations:
            assert 1 <= n <= len(answer.sources)
            assert sentence.text in answer.sources[n - 1].chunk.text
    assert any("14日以内に再交付" in s.text for s in answer.sentences)
    assert answer.sources[0].chunk.chunk_id == "c0"
    cited = {n for s in answer.sentences for n in s.citations}
    assert cited == set(range(1, len(answer.sources) + 1))  # every listed source is cited


def test_sentences_keep_reading_order_within_a_passage(parts):
    answer = answer_for("在留カード 紛失 再交付 手数料", parts)
    texts = [s.text for s in answer.sentences if s.citations == (1,)]
    positions = [TEXTS[0].index(t) for t in texts]
    assert positions == sorted(positions)


def test_overlapping_chunks_do_not_repeat_a_sentence():
    first = "警察に届けます。再交付を申請します。"
    second = "再交付を申請します。手数料は無料です。"
    hits = (hit(0, first, start=0), hit(1, second, start=len("警察に届けます。")))
    texts = [c.text for c in candidates(hits)]
    assert texts == ["警察に届けます。", "再交付を申請します。", "手数料は無料です。"]


def test_select_limits_sentences_and_passages():
    cands = [Candidate(p, i, i + 5, f"s{p}{i}", score=1.0 - 0.01 * (p * 10 + i)) for p in range(5) for i in range(3)]
    chosen = select(cands, max_sentences=4, max_passages=2, relative=0.5)
    assert len(chosen) == 4 and len({c.passage for c in chosen}) <= 2


def test_abstains_below_the_threshold_and_lists_nearest_sections(parts):
    answer = answer_for("在留カードを紛失したら", parts, threshold=10.0)
    assert answer.abstained and answer.sentences == () and answer.note
    assert [h.chunk.chunk_id for h in answer.sources] == ["c0", "c1", "c2"]
    assert answer.to_dict()["abstained"] is True


def test_no_hits_abstains():
    embedder = FakeEmbedder()
    answer = compose_answer(SearchResult("x", ()), Query("x", ["x"], np.zeros(64, dtype=np.float32)),
                            spans_embedder(embedder), KeywordIndex.build(["a"]), settings(0.0))
    assert answer.abstained and answer.sources == ()


def test_support_is_the_rerankers_best_score_when_reranked(parts):
    from answer.compose import WORDS_WEIGHT, support_score

    _, _, hits = parts
    scored = tuple(Hit(h.rank, 95.0 - h.rank, h.chunk, dense_score=0.8, rerank_score=95.0 - h.rank) for h in hits)
    assert support_score(SearchResult("q", scored), 0.9) == 94.0
    fused = tuple(Hit(h.rank, 0.9, h.chunk, dense_score=0.8, fused_score=0.9) for h in hits)
    assert support_score(SearchResult("q", fused), 0.5) == pytest.approx(0.8 + WORDS_WEIGHT * 0.5)
    assert support_score(SearchResult("q", ()), 0.0) == 0.0  # no hits: nothing supports
