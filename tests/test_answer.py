"""Extractive answers: one block per section, every sentence a verbatim span of the source it cites,
key facts first, urgent sections first, an honest "not found"."""
import numpy as np
import pytest

from answer.compose import budget, compose_answer
from answer.extract import Passage, candidates, key_sentences
from answer.keyfacts import deadline_days, fact_kinds
from answer.legs import Query
from index.keyword import KeywordIndex
from ingest.chunker import join_passages
from kb.config import AnswerSettings
from kb.model import Chunk, Hit, SearchResult
from tests.fakes import FakeEmbedder

SECTIONS = {
    "1.1.3": ["在留カードをなくしたときは、まず警察に遺失届を出します。",
              "紛失を知った日から14日以内に、地方出入国在留管理官署で再交付を申請します。手数料はかかりません。",
              "カードのデザインは数年ごとに変わります。"],
    "4.2.1": ["子どもが生まれたら、生まれた日を含めて14日以内に市区町村へ出生届を出します。"],
    "1.2.4": ["日本国籍のない子どもは、生まれた日から30日以内に在留資格の取得を申請します。"],
    "4.2.2": ["本国の大使館にも出生を届け出ます。"],
}


def section_hits(embedder, order):
    """Each section as its stored chunks (the first one split in two overlapping chunks) joined."""
    out = []
    for rank, sid in enumerate(order, 1):
        texts = SECTIONS[sid]
        chunks, pos = [], 0
        for i, t in enumerate(texts):
            chunks.append(Chunk(f"{sid}-{i}", f"ja/{sid}.md", "ガイド", "ja", "s", t, ("章", f"({rank}) 節{sid}"), sid,
                                page_label=str(rank), char_start=pos, char_end=pos + len(t)))
            pos += len(t) + 1
        joined, parts = join_passages(chunks)
        by_id = {c.chunk_id: c for c in chunks}
        stored = tuple((o, by_id[p.chunk_id], p.char_start - by_id[p.chunk_id].char_start) for o, p in parts)
        out.append(Passage(Hit(rank, 10.0 - rank, joined), stored))
    return out


def spans_embedder(embedder):
    """What the retriever gives extraction: vectors of (stored chunk, start, end) sentence spans."""
    return lambda spans: embedder.embed_passages([c.text[a:b] for c, a, b in spans])


@pytest.fixture
def parts():
    embedder = FakeEmbedder()
    keyword = KeywordIndex.build(["\n".join(v) for v in SECTIONS.values()])
    return embedder, keyword


def settings(max_sentences: int = 4) -> AnswerSettings:
    return AnswerSettings(passages=5, max_sentences=max_sentences, abstain_below=0.3, unsure_below=0.6,
                          max_sections=3, section_margin=2.0)


def answer_for(question, parts, order, verdict="answered", max_sentences=4):
    embedder, keyword = parts
    passages = section_hits(embedder, order)
    query = Query(question, keyword.query_tokens(question), embedder.embed_queries([question])[0], "ja", {})
    return compose_answer(SearchResult(question, tuple(p.hit for p in passages)), query, passages,
                          spans_embedder(embedder), keyword, settings(max_sentences), support=0.9, verdict=verdict)


def test_every_sentence_is_a_verbatim_span_of_the_section_it_cites_once(parts):
    answer = answer_for("在留カードを紛失したら何日以内に再交付を申請しますか", parts, ["1.1.3", "4.2.1"])
    assert not answer.abstained and answer.sentences and answer.verdict == "answered"
    for sentence in answer.sentences:
        [n] = sentence.citations
        assert sentence.text in answer.sources[n - 1].chunk.text
    assert len({h.chunk.section_id for h in answer.sources}) == len(answer.sources)  # no section twice
    assert [b.section_id for b in answer.blocks] == [h.chunk.section_id for h in answer.sources]
    assert any("14日以内" in s.text for s in answer.blocks[0].sentences)


def test_key_facts_win_and_reading_order_is_kept(parts):
    from answer.extract import FEATURES, WEIGHTS

    plain = np.zeros(len(FEATURES))
    plain[FEATURES.index("cosine")] = 0.85
    factual = plain.copy()
    for kind in ("fact_deadline", "fact_where", "fact_cost"):
        factual[FEATURES.index(kind)] = 1.0
    assert factual @ WEIGHTS[:-1] > plain @ WEIGHTS[:-1]  # as relevant, but with the facts: preferred
    answer = answer_for("在留カード なくした", parts, ["1.1.3"], max_sentences=2)
    positions = [answer.sources[0].chunk.text.index(s.text) for s in answer.sentences]
    assert len(positions) == 2 and positions == sorted(positions)


def test_after_the_best_section_the_urgent_ones_come_first(parts):
    answer = answer_for("子どもが生まれました。何をすればいいですか", parts, ["4.2.1", "4.2.2", "1.2.4"])
    assert [b.section_id for b in answer.blocks] == ["4.2.1", "1.2.4", "4.2.2"]  # 14, then 30 days, then none
    assert [b.source for b in answer.blocks] == [1, 2, 3]


def test_not_found_lists_the_nearest_sections_and_quotes_nothing(parts):
    answer = answer_for("在留カードを紛失したら", parts, ["1.1.3", "4.2.1"], verdict="not_found")
    assert answer.abstained and answer.sentences == () and answer.blocks == () and answer.note
    assert [h.chunk.section_id for h in answer.sources] == ["1.1.3", "4.2.1"]
    assert answer.to_dict()["verdict"] == "not_found"


def test_unsure_answers_say_so(parts):
    answer = answer_for("在留カードを紛失したら", parts, ["1.1.3"], verdict="unsure")
    assert answer.sentences and not answer.abstained and "may not cover" in answer.note


def test_a_joined_section_maps_each_sentence_back_to_its_stored_chunk():
    a = Chunk("a", "s", "t", "ja", "r", "一文目。二文目。", char_start=0, char_end=8)
    b = Chunk("b", "s", "t", "ja", "r", "二文目。三文目。", char_start=4, char_end=12)  # overlaps a
    joined, parts = join_passages([b, a])
    assert joined.text == "一文目。二文目。三文目。"
    passage = Passage(Hit(1, 1.0, joined), tuple((o, {"a": a, "b": b}[p.chunk_id], p.char_start -
                                                   {"a": a, "b": b}[p.chunk_id].char_start) for o, p in parts))
    start = joined.text.index("三文目。")
    chunk, s, e = passage.stored_span(start, start + 4)
    assert chunk.chunk_id == "b" and chunk.text[s:e] == "三文目。"
    assert [joined.text[x:y] for x, y in candidates(passage)] == []  # all shorter than a sentence


def test_key_sentences_never_invent_text(parts):
    embedder, keyword = parts
    [passage] = section_hits(embedder, ["1.1.3"])
    query = Query("再交付", keyword.query_tokens("再交付"), embedder.embed_queries(["再交付"])[0], "ja", {})
    quotes = key_sentences(passage, query, spans_embedder(embedder), keyword, limit=3)
    assert quotes and all(passage.hit.chunk.text[q.start:q.end] == q.text for q in quotes)


@pytest.mark.parametrize("text, kinds, days", [
    ("生まれた日を含めて14日以内に市区町村へ出生届を出します。", {"deadline", "where"}, 14),
    ("You must notify the city office within 2 months.", {"deadline", "obligation", "where"}, 60),
    ("Khi bị mất thẻ, hãy báo cảnh sát trong vòng 14 ngày.", {"deadline", "where"}, 14),
    ("手数料はかかりません。", {"cost"}, None),
    # an organisation named by its suffix is a place to go
    ("最低賃金については都道府県労働局に相談できます。", {"where"}, None),
    ("Ask the Foreign Residents Support Center.", {"where"}, None),
])
def test_key_fact_kinds_in_several_editions(text, kinds, days):
    assert kinds <= set(fact_kinds(text)) and deadline_days(text) == days


def test_a_word_ending_like_an_organisation_is_not_one():
    assert "where" not in fact_kinds("結局、手続は不要です。")  # 結局 "after all": one character before 局


def test_no_passage_abstains():
    embedder = FakeEmbedder()
    query = Query("x", ["x"], np.zeros(64, dtype=np.float32), "ja", {})
    answer = compose_answer(SearchResult("x", ()), query, [], spans_embedder(embedder), KeywordIndex.build(["a"]),
                            settings(), support=0.9, verdict="answered")
    assert answer.abstained and answer.sources == ()


def test_sentence_budget_is_larger_for_a_section_that_answers_alone():
    assert budget(0, 1, 5) == 5
    assert [budget(i, 3, 5) for i in range(3)] == [4, 3, 3]
    assert [budget(i, 2, 1) for i in range(2)] == [1, 1]  # never none
