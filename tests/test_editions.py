"""Language editions with the fake embedder: per-edition search, alignment by section number, --lang."""
import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from answer.editions import editions_for
from ingest.chunker import stitch
from cli import app
from kb import KnowledgeBase
from kb.errors import QueryError
from kb.model import Chunk

runner = CliRunner()


def test_every_edition_is_searched_the_questions_own_first():
    available = {"ja": [0, 5], "vi": [5, 9], "ja-easy": [9, 12]}
    assert editions_for("Tôi bị mất thẻ cư trú", available) == ["vi", "ja", "ja-easy"]
    assert editions_for("在留カードをなくした", available) == ["ja", "ja-easy", "vi"]
    assert editions_for("Perdí mi tarjeta de residencia", available) == ["ja", "ja-easy", "vi"]  # no es edition
    assert editions_for("x", {"ja": [0, 3]}) == ["ja"]
    assert editions_for("x", available, ["vi", "ko"]) == ["vi"]
    with pytest.raises(QueryError, match="available"):
        editions_for("x", available, ["ko"])


def test_rows_are_grouped_by_edition_and_search_can_be_limited(index):
    with KnowledgeBase.open(index) as kb:
        assert kb.editions()["languages"] == {"ja": 2, "vi": 1}
        hits = kb.search("thẻ cư trú 14 ngày", k=5, languages=["vi"]).hits
        assert hits and {h.chunk.language for h in hits} == {"vi"}
        hits = kb.search("在留カード 紛失", k=5, languages=["ja"]).hits
        assert {h.chunk.language for h in hits} == {"ja"}


def test_in_edition_follows_the_section_number(index):
    with KnowledgeBase.open(index) as kb:
        hit = kb.search("在留カードをなくした", k=1, languages=["ja"]).hits[0]
        [vi] = kb.in_edition(hit, "vi")
        assert vi.section_id == "1.1.3" and vi.language == "vi" and "14 ngày" in vi.text
        renewal = kb.search("在留期間の更新", k=1, languages=["ja"]).hits[0]
        assert renewal.chunk.section_id == "1.2" and kb.in_edition(renewal, "vi") == []
        assert kb.in_edition(hit, "ja") == [hit.chunk]


def test_hit_in_edition_still_works_for_one_release_with_a_warning(index):
    with KnowledgeBase.open(index) as kb:
        hit = kb.search("在留カードをなくした", k=1, languages=["ja"]).hits[0]
        with pytest.warns(DeprecationWarning, match="KnowledgeBase.in_edition"):
            assert hit.in_edition("vi") == kb.in_edition(hit, "vi")
        assert hit.to_dict() == replace(hit, origin=None).to_dict() and hit == replace(hit, origin=None)


def test_ask_in_the_residents_language_with_fallback_notes(index, monkeypatch):
    monkeypatch.setenv("KB_SECTION_MARGIN", "1000")  # quote both sections, the one vi lacks too
    with KnowledgeBase.open(index) as kb:
        answer = kb.ask("在留カードをなくしたらどうする", lang="vi")
        assert answer.sources[0].chunk.language == "vi" and "14 ngày" in answer.sentences[0].text
        assert "Not in the vi edition: 1.2" in answer.note
        for s in answer.sentences:
            assert s.text in answer.sources[s.citations[0] - 1].chunk.text
        assert [h.chunk.language for h in answer.sources] == ["vi", "ja"]  # 1.2 from Japanese, once
        assert len({h.chunk.section_id for h in answer.sources}) == 2
        ko = kb.ask("在留カードをなくしたらどうする", lang="ko")
        assert "no ko edition" in ko.note and ko.sources[0].chunk.language == "ja"


def test_without_lang_the_questions_own_language_gets_the_same_notes(index, monkeypatch):
    """No --lang: the answer is for the question's language, and says what its edition lacks."""
    monkeypatch.setenv("KB_SECTION_MARGIN", "1000")  # quote both sections, the one vi lacks too
    with KnowledgeBase.open(index) as kb:
        vi = kb.ask("Khi bị mất thẻ cư trú thì phải làm gì?")
        assert sorted((h.chunk.section_id, h.chunk.language) for h in vi.sources) == [("1.1.3", "vi"), ("1.2", "ja")]
        assert vi.note == "Not in the vi edition: 1.2 (quoted from the ja edition)."
        ko = kb.ask("재류카드를 잃어버렸어요")
        assert "no ko edition" in ko.note and {h.chunk.language for h in ko.sources} == {"ja"}
        assert kb.ask("在留カードをなくしたらどうする").note == ""  # Japanese: nothing to say


def test_the_fallback_edition_is_a_setting(index, monkeypatch):
    """fallback_edition: where a language with no edition (or a section its edition lacks) is answered
    from; Japanese where that edition lacks the section too, and when the index has no such edition."""
    monkeypatch.setenv("KB_SECTION_MARGIN", "1000")
    monkeypatch.setenv("KB_FALLBACK_EDITION", "vi")
    with KnowledgeBase.open(index) as kb:
        ko = kb.ask("재류카드를 잃어버렸어요")
        assert sorted((h.chunk.section_id, h.chunk.language) for h in ko.sources) == [("1.1.3", "vi"), ("1.2", "ja")]
        assert ko.note == ("There is no ko edition in this knowledge base; answering from vi. "
                           "Not in the vi edition: 1.2 (quoted from the ja edition).")
        assert kb.ask("재류카드를 잃어버렸어요", lang="ko").note == ko.note
    monkeypatch.setenv("KB_FALLBACK_EDITION", "en")  # not in this index
    with KnowledgeBase.open(index) as kb:
        ko = kb.ask("재류카드를 잃어버렸어요")
        assert {h.chunk.language for h in ko.sources} == {"ja"} and "answering from ja" in ko.note


def test_kb_show_and_editions_commands(index):
    result = runner.invoke(app, ["show", "1.1", "--lang", "vi", "--index", str(index)])
    assert result.exit_code == 0 and "14 ngày" in result.stdout and "Thẻ cư trú" in result.stdout
    result = runner.invoke(app, ["show", "1.2", "--lang", "vi", "--index", str(index)])
    assert result.exit_code == 1 and "not in the vi edition" in result.stderr
    data = json.loads(runner.invoke(app, ["editions", "--index", str(index), "--json"]).stdout)
    assert data["alignment"]["vi"]["missing"] == ["1.2"] and data["alignment"]["vi"]["only_here"] == []
    data = json.loads(runner.invoke(app, ["ask", "在留カードをなくした", "--lang", "vi", "--index", str(index),
                                          "--json"]).stdout)
    assert data["sources"][0]["citation"]["language"] == "vi"


def test_stitch_cuts_overlap_and_keeps_offsets():
    text = "一文目。二文目。三文目。"
    a = Chunk("a", "s", "t", "ja", "e", text[:8], char_start=0, char_end=8)
    b = Chunk("b", "s", "t", "ja", "e", text[4:], char_start=4, char_end=len(text))
    joined = stitch([b, a])
    assert "".join(c.text for c in joined) == text
    assert all(text[c.char_start:c.char_end] == c.text for c in joined)


def test_coverage_report_sorts_numbered_sections_and_law_articles_together():
    from answer.editions import coverage_report

    class Store:
        def section_ids(self):
            return {"ja": {"1.10", "1.2", "第三条", "2"}, "vi": {"1.2"}}

    class Version:
        store = Store()

    report = coverage_report(Version())
    assert report["vi"]["missing"] == ["1.10", "2", "第三条"]


def test_a_search_confined_to_other_sources_goes_through_the_guidebook(tmp_path, fake_embedder):
    """A Vietnamese question searched in a Japanese notice only (no numbered sections) is also read
    through the best guidebook section's Japanese sentence; a Japanese question, a search with the
    guidebook in reach, or one confined to the guidebook is not."""
    from tests.conftest import JA, VI, write_sources

    src = write_sources(tmp_path / "src", {"ja": JA, "vi": VI})
    (src / "notices").mkdir()
    (src / "notices" / "card.txt").write_text("在留カードの再交付の申請は、地方出入国在留管理官署で行います。", encoding="utf-8")
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        def pivoted(question: str, **kw) -> bool:
            return "book" in kb.search(question, 3, **kw).timings_ms

        assert pivoted("Tôi bị mất thẻ cư trú", sources=["src/notices/"])
        hits = kb.search("Tôi bị mất thẻ cư trú", 3, sources=["src/notices/"]).hits
        assert hits and all(h.chunk.source_id.startswith("src/notices/") for h in hits)
        assert not pivoted("在留カードをなくした", sources=["src/notices/"])
        assert not pivoted("Tôi bị mất thẻ cư trú")
        assert not pivoted("Tôi bị mất thẻ cư trú", sources=["src/ja/"])


def test_a_heading_that_names_the_questions_concept_is_a_section_feature(index):
    """The glossary carries "residence card" to 在留カード; 1.1.3 is filed under 1 在留カード, 1.2 is not."""
    from answer.sections import FEATURES

    with KnowledgeBase.open(index) as kb:
        scored = kb._retriever.section_evidence("I lost my residence card, what do I do?")
        heading = dict(zip(scored.keys, scored.features[:, FEATURES.index("heading")]))
        assert heading["1.1.3"] == 1.0 and heading["1.2"] == 0.0
        assert kb._retriever.version.headings(["1.1.3", "1.2", "9.9.9"]) == ["1 在留カード (3) 紛失", "2 在留期間の更新", ""]
        plain = kb._retriever.section_evidence("在留カードをなくした")  # Japanese: the term itself is no variant
        assert not plain.features[:, FEATURES.index("heading")].any()
