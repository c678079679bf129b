"""Hostile sources (issue 14, findings 1, 2, 6, 7): nothing hangs, nothing aborts the sync, every
limit reports the file or page it stopped and the sync goes on."""
import os
import time

import pytest

from ingest.limits import reading
from ingest.loader import SourceFile, collect, load_all
from kb import KnowledgeBase, Settings
from tests.pdfgen import make_guidebook

GOOD = "+++\ntitle = \"ガイド\"\nlanguage = \"ja\"\n+++\n# 第1章 在留\n## 1 在留カード\n在留カードをなくしたときは、14日以内に再交付を申請します。\n"


def law_page(body: str) -> str:
    return (f'<html><body><div id="lawTitle" class="_shokanBoxParent">見本法</div>'
            f'<section id="MainProvision" class="active MainProvision">{body}</section></body></html>')


def settings(tmp_path, **limits):
    return Settings.load(index=tmp_path / "idx", **limits)


def test_a_heading_of_ten_thousand_spaces_syncs_in_under_5_seconds(tmp_path, fake_embedder):
    # Finding 1: the heading regex backtracked for minutes while holding the writer lock.
    src = tmp_path / "src"
    src.mkdir()
    (src / "spaces.md").write_text("# a" + " " * 10_000 + "b\n\n在留カードの更新は3か月前から申請できます。\n",
                                   encoding="utf-8")
    started = time.perf_counter()
    report = KnowledgeBase.sync([src], index=tmp_path / "idx")
    assert time.perf_counter() - started < 5
    (source,) = report.sources
    assert source.error is None and source.chunks == 1
    chunk = KnowledgeBase.open(tmp_path / "idx").search("在留カード 更新", k=1).hits[0].chunk
    assert chunk.section_path == ("a b",)


def test_a_shift_jis_file_name_is_read_as_cp932_and_the_sync_goes_on(tmp_path, fake_embedder):
    # Finding 2: one undecodable name (zips made on Windows) aborted the whole sync with a traceback.
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.md").write_text(GOOD, encoding="utf-8")
    raw = os.fsencode(src) + b"/" + "在留カード.md".encode("cp932")
    with open(raw, "wb") as f:
        f.write(GOOD.replace("在留カードをなくした", "在留カードを紛失した").encode("utf-8"))
    report = KnowledgeBase.sync([src], index=tmp_path / "idx")
    ids = sorted(s.source_id for s in report.sources)
    assert ids == ["src/good.md", "src/在留カード.md"]
    assert all(s.error is None and s.chunks for s in report.sources)
    status = KnowledgeBase.open(tmp_path / "idx").status().to_dict()
    assert "src/在留カード.md" in {s["source_id"] for s in status["sources"]}


def test_html_nested_past_the_parser_limit_is_reported(tmp_path):
    # Finding 6: 20,000 nested sections lost most of the page without a word.
    from ingest.lawhtml import load_law_html
    from tests.test_lawhtml import _article as article

    page = law_page(article("第一条", None, "この法律は目的を定める。") + "<section>" * 20_000 + "深い" +
                    "</section>" * 20_000 + article("第二条", None, "定義を定める。"))
    path = tmp_path / "100AC0000000001_20250601_000.html"
    path.write_text(page, encoding="utf-8")
    doc = load_law_html(path)
    assert [i.reason for i in doc.issues] == ["limit"] and "depth" in doc.issues[0].detail


def test_html_deeper_than_max_nesting_is_cut_and_reported(tmp_path):
    from ingest.lawhtml import load_law_html
    from tests.test_lawhtml import _article as article

    deep = "<div>" * 30 + "深すぎる本文" + "</div>" * 30
    path = tmp_path / "100AC0000000001_20250601_000.html"
    path.write_text(law_page(article("第一条", None, "この法律は目的を定める。" + deep)), encoding="utf-8")
    limits = settings(tmp_path, max_nesting=20).limits
    with reading(limits, str(path)) as guard:
        doc = load_law_html(path)
    assert "深すぎる本文" not in doc.text and "目的を定める" in doc.text
    assert [i.reason for i in guard.issues] == ["limit"] and "max_nesting = 20" in guard.issues[0].detail


def test_pdf_lines_that_differ_only_in_digits_are_text_not_running_headers(tmp_path):
    # Finding 6: every line of a table-like PDF was stripped as a header/footer; every page "empty".
    from reportlab.pdfgen import canvas

    from ingest.pdf import load_pdf

    path = tmp_path / "costs.pdf"
    c = canvas.Canvas(str(path))
    words = ["Rent", "Water", "Power", "Gas", "Phone", "Tax", "Bus", "Food", "School", "Clinic"]
    for page in range(8):
        for i, word in enumerate(words):
            c.drawString(72, 700 - i * 30, f"{word} costs {page * 13 + i * 7 + 100} yen in month {page + 1}")
        c.drawString(72, 810, "Monthly costs report")  # a real running header: still stripped
        c.showPage()
    c.save()
    doc = load_pdf(path)
    assert not doc.issues
    assert "Rent costs 100 yen in month 1" in doc.text and "Clinic costs 254 yen in month 8" in doc.text
    assert "Monthly costs report" not in doc.text


def test_files_past_max_files_are_reported_not_read(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n in range(3):
        (src / f"{n}.md").write_text(GOOD.replace("14日", f"{n + 10}日"), encoding="utf-8")
    loaded = load_all(collect([src]), settings(tmp_path).chunking, limits=settings(tmp_path, max_files=2).limits)
    errors = [r.error for r in loaded.reports]
    assert errors[:2] == [None, None] and "max_files = 2" in errors[2]
    assert {d.source_id for d in loaded.documents} == {"src/0.md", "src/1.md"}


def test_a_file_over_max_file_mb_is_reported_and_the_next_is_read(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.md").write_text(GOOD + "本文。" * 200_000, encoding="utf-8")
    (src / "small.md").write_text(GOOD, encoding="utf-8")
    loaded = load_all(collect([src]), settings(tmp_path).chunking, limits=settings(tmp_path, max_file_mb=0.5).limits)
    big, small = loaded.reports
    assert "over max_file_mb = 0.5" in big.error and small.error is None and small.chunks


def test_a_file_over_parse_seconds_is_reported_and_the_next_is_read(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a_slow.md").write_text(GOOD + "一行。\n" * 300_000, encoding="utf-8")
    (src / "b_quick.md").write_text(GOOD, encoding="utf-8")
    limits = settings(tmp_path, parse_seconds=0.05).limits
    started = time.perf_counter()
    loaded = load_all(collect([src]), settings(tmp_path).chunking, limits=limits)
    assert time.perf_counter() - started < 5
    slow, quick = loaded.reports
    assert "parse_seconds = 0.05" in slow.error and quick.error is None


def test_a_pdf_over_parse_seconds_is_one_file_error_not_a_page_per_page(tmp_path):
    from kb.errors import IngestError

    make_guidebook(tmp_path / "ja.pdf")
    with pytest.raises(IngestError) as exc:  # the only file: nothing left to index
        load_all(collect([tmp_path / "ja.pdf"]), settings(tmp_path).chunking,
                 limits=settings(tmp_path, parse_seconds=1e-6).limits)
    assert "ja.pdf: reading it took longer than parse_seconds" in str(exc.value)
    assert "page" not in str(exc.value)


def test_pages_past_max_pdf_pages_are_reported_and_the_first_indexed(tmp_path):
    make_guidebook(tmp_path / "ja.pdf")
    loaded = load_all(collect([tmp_path / "ja.pdf"]), settings(tmp_path).chunking,
                      limits=settings(tmp_path, max_pdf_pages=2).limits)
    (report,) = loaded.reports
    limit = [i for i in report.issues if i.reason == "limit"]
    assert len(limit) == 1 and "max_pdf_pages = 2" in limit[0].detail and limit[0].page_index == 2
    assert {c.page_index for c in loaded.chunks} <= {0, 1}


def test_long_headings_and_lines_are_cut_and_reported(tmp_path):
    path = tmp_path / "long.md"
    path.write_text("# 第1章 " + "見出し" * 400 + "\n\n" + "本文です。" * 10_000 + "\n", encoding="utf-8")
    loaded = load_all([SourceFile(path, "long.md")], settings(tmp_path).chunking,
                      limits=settings(tmp_path, max_heading_chars=100, max_line_chars=5000).limits)
    (report,) = loaded.reports
    details = sorted(i.detail for i in report.issues)
    assert any("heading was cut to 100" in d for d in details) and any("line was cut to 5000" in d for d in details)
    assert all(len(c.section_path[0]) <= 100 for c in loaded.chunks)
    assert sum(len(c.text) for c in loaded.chunks) < 7000


def test_identical_passages_are_embedded_once(tmp_path, fake_embedder):
    # Finding 7: a 20 MB single line cost one embedding per identical 400-character piece.
    src = tmp_path / "src"
    src.mkdir()
    (src / "line.md").write_text(GOOD + "あ" * 400 * 300 + "\n", encoding="utf-8")
    report = KnowledgeBase.sync([src], index=tmp_path / "idx")
    assert report.chunks > 40  # the line is cut at max_line_chars = 20,000 (reported)
    assert report.changes.chunks.embedded <= 3 and fake_embedder.passage_calls < 10


@pytest.mark.parametrize("text", ["・" * 50_000 + "x", "＊1" * 25_000 + "x"])
def test_pdf_heading_patterns_are_linear(text):
    from ingest.pdf.headings import _leader, heading_label

    started = time.perf_counter()
    _leader(text), heading_label(text)
    assert time.perf_counter() - started < 0.5
    assert _leader("在留カード………12") and _leader("目的 ・・・ 3 ") and not _leader("在留カード。")
    assert heading_label("技術の開発＊5") == "技術の開発" and heading_label("第1章 ※12 ＊3") == "第1章"


def test_the_default_limits_pass_the_real_statutes_and_pdfs(tmp_path):
    from tests.conftest import shared

    laws, pdfs = shared("corpus", "laws"), shared("corpus", "pdfs")
    loaded = load_all(collect([laws, pdfs]), settings(tmp_path).chunking, limits=settings(tmp_path).limits)
    assert not [i for r in loaded.reports for i in r.issues if i.reason == "limit"]
    assert not [r.error for r in loaded.reports if r.error and "max_" in r.error or "parse_seconds" in (r.error or "")]
    assert len([r for r in loaded.reports if r.source_id.endswith(".html")]) == 22
