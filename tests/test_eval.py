"""`kb eval` metrics on a tiny labelled set whose expected values are computed by hand."""
import json
import math

import pytest

from answer.evaluate import Question, evaluate, load_questions, matches, ranked_targets
from kb.errors import KBError
from kb.model import Answer, Chunk, Hit, SearchResult


def chunk(section_id, source="ja/01.md", text="本文", page=None):
    return Chunk(f"{source}{section_id}{text}", source, "T", "ja", "s", text, ("章", section_id), section_id,
                 page_label=page)


class StubKB:
    """Returns fixed rankings per (question, mode): the metric arithmetic is what is under test."""

    def __init__(self, rankings, abstains=()):
        self.rankings = rankings
        self.abstains = set(abstains)

    def search(self, query, k, mode="hybrid"):
        chunks = self.rankings[(query, mode)]
        return SearchResult(query, tuple(Hit(i + 1, 1.0, c) for i, c in enumerate(chunks[:k])))

    def ask(self, query):
        return Answer(query, (), (), abstained=query in self.abstains)


QUESTIONS = [
    Question("a", "qa", "ja", True, ("1.1",)),
    Question("b", "qb", "en", True, ("2.1", "3.1")),
    Question("c", "qc", "ja", False, ()),
    Question("d", "qd", "ja", False, ()),
]
RANKINGS = {
    # qa: gold 1.1 at rank 2 (1.1.3 is a subsection of 1.1)
    ("qa", "hybrid"): [chunk("9.9"), chunk("1.1.3"), chunk("1.1")],
    # qb: gold 3.1 at rank 1, 2.1 at rank 4, a repeat of 3.1 at rank 2 counts as a miss
    ("qb", "hybrid"): [chunk("3.1"), chunk("3.1.2"), chunk("5"), chunk("2.1"), chunk("6")],
}


def test_metrics_by_hand():
    report = evaluate(StubKB(RANKINGS, abstains={"qc", "qa"}), QUESTIONS, ["hybrid"], abstention=True)
    overall = report.modes["hybrid"]["all"]
    assert overall["n"] == 2
    assert overall["R@1"] == pytest.approx(0.5)           # qa misses at 1, qb hits
    assert overall["R@5"] == pytest.approx(1.0)
    assert overall["MRR@10"] == pytest.approx((1 / 2 + 1) / 2)
    # qa: one gold at rank 2 -> (1/log2 3) / 1. qb ranked targets [g1, miss, miss, g0, miss] -> gold at 1 and 4.
    ndcg_a = 1 / math.log2(3)
    ndcg_b = (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert overall["cover@5"] == pytest.approx((1 + 1) / 2)
    assert overall["nDCG@10"] == pytest.approx((ndcg_a + ndcg_b) / 2)
    assert report.modes["hybrid"]["en"]["R@1"] == 1.0 and report.modes["hybrid"]["ja"]["R@1"] == 0.0
    # abstained on qc (right) and qa (wrong); answered qd (wrong)
    assert report.abstention == {"precision": 0.5, "recall": 0.5, "out_of_scope": 2, "in_scope": 2,
                                 "abstained_in_scope": 1, "answered_out_of_scope": 1}


def test_misses_list_each_question_it_got_wrong_and_nothing_else():
    rankings = {**RANKINGS, ("qe", "hybrid"): [chunk("4.1"), chunk("9.9")]}
    questions = QUESTIONS + [Question("e", "qe", "vi", True, ("7.5",))]
    report = evaluate(StubKB(rankings, abstains={"qc", "qa"}), questions, ["hybrid"], abstention=True, misses=True)
    # qa and qb have every gold target in the top 5; qe has none of its
    assert [(m["id"], m["first_gold_rank"], m["cover@5"], m["top5"]) for m in report.misses["retrieval"]] == \
        [("e", None, 0.0, ["4.1", "9.9"])]
    # qa (answerable) abstained, qd (out of scope) answered; qc was right
    assert sorted((m["id"], m["in_scope"]) for m in report.misses["abstention"]) == [("a", True), ("d", False)]
    assert "misses" in report.to_dict()
    assert "misses" not in evaluate(StubKB(rankings), questions, ["hybrid"]).to_dict()


def test_gold_forms():
    c = chunk("第十九条の七", source="laws/x.html", text="十四日以内に届け出", page="12")
    assert matches({"source_id": "laws/x.html", "section": "第十九条の七"}, c)
    assert matches({"page": "12"}, c) and matches({"text": "十四日以内"}, c)
    assert not matches({"source_id": "other", "page": "12"}, c)
    assert matches("1.1", chunk("1.1.3")) and not matches("1.1", chunk("1.10"))
    with pytest.raises(KBError, match="unknown gold keys"):
        matches({"chapter": 1}, c)
    assert ranked_targets(Question("x", "x", gold=("1.1",)), [chunk("2"), chunk("1.1")]) == ["miss0", 0]


def test_question_file_errors(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "x", "gold": []}) + "\n", encoding="utf-8")
    with pytest.raises(KBError, match="no gold"):
        load_questions(path)
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(KBError, match=":1: not a question"):
        load_questions(path)
    with pytest.raises(KBError, match="cannot read"):
        load_questions(tmp_path / "missing.jsonl")


def test_repository_question_set_is_well_formed():
    from kb.config import PROJECT_ROOT

    questions = load_questions(PROJECT_ROOT / "eval" / "guidebook_questions.jsonl")
    assert len(questions) >= 100 and any(not q.in_scope for q in questions)
    assert len({q.id for q in questions}) == len(questions)


def test_squad_converter_round_trip(tmp_path, fake_embedder):
    """A SQuAD-format file becomes a corpus + questions that `kb eval` scores."""
    from bench.squad_to_eval import convert
    from kb import KnowledgeBase

    squad = {"data": [{"title": "梅雨", "paragraphs": [
        {"context": "梅雨 [SEP] 梅雨は5月から7月にかけて雨の多い期間のこと。", "qas": [{"question": "梅雨はいつですか", "id": "1"}]},
        {"context": "梅雨 [SEP] 北海道には梅雨がないとされる。", "qas": [{"question": "梅雨がない地域は", "id": "2"}]}]}]}
    src = tmp_path / "valid.json"
    src.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    assert convert([src], tmp_path / "out") == (2, 2)
    KnowledgeBase.sync([tmp_path / "out" / "corpus"], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        report = evaluate(kb, load_questions(tmp_path / "out" / "questions.jsonl"), ["keyword"])
    assert report.modes["keyword"]["all"]["n"] == 2 and report.modes["keyword"]["all"]["R@5"] == 1.0


@pytest.mark.parametrize("name", ["guidebook_questions.jsonl", "consultations.jsonl", "fresh_consultations.jsonl",
                                  "scope_questions.jsonl", "key_facts.jsonl"])
def test_guidebook_question_sets_name_real_sample_sections(name):
    """Every gold section of the project's guidebook question sets is a section of the sample
    (some editions have a section Japanese lacks; a typo would silently count as a miss), and ids
    are unique."""
    from ingest.markdown import load_markdown
    from kb.config import PROJECT_ROOT

    sections = {b.section_id for path in sorted((PROJECT_ROOT / "data" / "guidebook").glob("*/*.md"))
                for b in load_markdown(path).blocks if b.section_id}
    sections |= {".".join(s.split(".")[:n]) for s in sections for n in (1, 2)}  # a part or chapter as gold
    rows = [json.loads(line) for line in (PROJECT_ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    assert len({r["id"] for r in rows}) == len(rows)
    golds = [g for r in rows for g in ([r["section"]] if "section" in r else r.get("gold", []))
             if isinstance(g, str)]
    assert golds or name == "scope_questions.jsonl" or all(not r.get("in_scope", True) for r in rows)
    assert not [g for g in golds if g not in sections]
