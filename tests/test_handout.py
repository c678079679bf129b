"""The resident's handout (fake embedder), checked in a real browser when one is installed; notes and
labels in Japanese; a document titled by its first heading; progress counting what the summary counts."""
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from answer.render.browser import find_browser, print_pdf, screenshot
from answer.render.i18n import note_text
from cli import app
from kb import KnowledgeBase
from tests.conftest import JA, VI, write_sources

runner = CliRunner()
NOTICE_JA = "これはサンプルです。公式の本文ではありません。"
NOTICE_VI = "Đây là bản mẫu, không phải văn bản chính thức."


def sample(text: str, notice: str) -> str:
    return text.replace('edition = "t"\n', f'edition = "t"\nsample = true\nnotice = "{notice}"\n')


@pytest.fixture
def guide(tmp_path, fake_embedder) -> Path:
    """The two-edition guide of conftest, marked as a sample with a notice in each edition."""
    src = write_sources(tmp_path / "src", {"ja": sample(JA, NOTICE_JA), "vi": sample(VI, NOTICE_VI)})
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    return tmp_path / "idx"


def test_kb_handout_writes_both_editions_with_citations_and_the_notice(guide, tmp_path):
    out = tmp_path / "out.html"
    result = runner.invoke(app, ["handout", "在留カードをなくした", "--lang", "vi", "-o", str(out), "--index", str(guide)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "Khi bị mất thẻ cư trú, hãy báo cảnh sát" in page and "警察に届けてから14日以内に再交付" in page
    assert "Hướng dẫn [vi, t] § 1.1.3" in page and "ガイド [ja, t] § 1.1.3" in page and page.count("p. 1") >= 2
    assert NOTICE_VI in page and NOTICE_JA in page
    assert '<article lang="vi">' in page and '<article lang="ja">' in page
    assert "@page { size: A4" in page and "<svg" in page and "guidebook_all.html" in page  # QR + official page
    assert re.search(r"\d{4}-\d\d-\d\d", page) and "<link" not in page and "<script" not in page  # self-contained


def test_a_language_without_an_edition_gets_the_japanese_and_says_so(guide):
    with KnowledgeBase.open(guide) as kb:
        page = kb.handout("在留カードをなくした", "ko")
    assert "警察に届けてから14日以内" in page and "This section is not in the ko edition" in page


def test_no_answer_no_handout(guide, monkeypatch):
    monkeypatch.setenv("KB_ABSTAIN_BELOW", "1")  # a probability: nothing is supported enough
    monkeypatch.setenv("KB_UNSURE_BELOW", "1")
    result = runner.invoke(app, ["handout", "火星に住むには", "--lang", "vi", "--index", str(guide)])
    assert result.exit_code == 1 and "nothing to hand out" in result.stderr


def test_status_keeps_each_documents_front_matter(guide):
    with KnowledgeBase.open(guide) as kb:
        sources = {s.language: s for s in kb.status().sources}
    assert sources["vi"].sample and sources["vi"].meta["notice"] == NOTICE_VI
    assert sources["ja"].to_dict()["meta"]["notice"] == NOTICE_JA


@pytest.mark.skipif(find_browser() is None, reason="no headless browser (apt-get install chromium)")
def test_the_handout_in_a_real_browser_is_one_a4_page(guide, tmp_path):
    import pypdf

    html = tmp_path / "handout.html"
    with KnowledgeBase.open(guide) as kb:
        html.write_text(kb.handout("在留カードをなくした", "vi"), encoding="utf-8")
    png = screenshot(html, tmp_path / "handout.png", width=794, height=1123)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    pdf = pypdf.PdfReader(print_pdf(html, tmp_path / "handout.pdf"))
    assert len(pdf.pages) == 1
    box = pdf.pages[0].mediabox  # A4 = 595 x 842 points
    assert abs(float(box.width) - 595) < 2 and abs(float(box.height) - 842) < 2
    assert "14 ngày" in pdf.pages[0].extract_text()


def test_the_answer_notes_are_translated(index):
    with KnowledgeBase.open(index) as kb:
        notes = [kb.ask("在留期間の更新", lang="vi").note, kb.ask("在留カードをなくした", lang="ko").note]
    assert all(notes)
    for note in notes:
        japanese = note_text(note, "ja")
        assert not re.search(r"[A-Za-z]{3,}", japanese.replace("ja", "").replace("vi", "").replace("ko", "")), japanese
        assert note_text(note, "en") == note


def test_a_document_without_a_title_is_titled_by_its_first_heading(tmp_path, fake_embedder):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "local.md").write_text("# 窓口の手引き\n\n## 1 受付\n受付は9時からです。\n", encoding="utf-8")
    KnowledgeBase.sync([tmp_path / "src"], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        assert [s.title for s in kb.status().sources] == ["窓口の手引き"]


def test_progress_counts_what_the_summary_counts(tmp_path, fake_embedder):
    src = write_sources(tmp_path / "src", {"ja": JA})
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    (src / "ja" / "01.md").write_text(JA + "\n## 3 新しい項目\n新しい文です。\n", encoding="utf-8")
    seen: dict[str, int] = {}
    report = KnowledgeBase.sync([src], index=tmp_path / "idx",
                                progress=lambda stage, n, total: seen.__setitem__(stage, seen.get(stage, 0) + n))
    assert seen.get("embed", 0) == report.embedded and seen.get("embed sentences", 0) == report.sentences_embedded
    assert 0 < report.embedded < report.chunks
