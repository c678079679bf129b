"""Tests for the e-Gov law-view HTML loader (ingest/lawhtml.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.lawhtml import MAX_BLOCK_CHARS, is_law_html, load_law_html
from kb.errors import IngestError
from kb.model import Document

LAWS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "laws"
IMMIGRATION_ACT = "326CO0000000319"  # 出入国管理及び難民認定法

# The per-provision UI boxes e-Gov puts after every paragraph.
BOX = '<div class="_shokanBox"><div class="_shokanBtnIcons"></div></div><div class="_inyoBox"></div>'


def _article(number: str, caption: str | None, *paragraphs: str, extra: str = "") -> str:
    cap = (f'<div class="_div_ArticleCaption _shokanBoxParent"><span>{caption}</span>{BOX}</div>'
           if caption else "")
    first, *rest = paragraphs
    body = (f'<div class="_div_ArticleTitle _shokanBoxParent">'
            f'<span style="font-weight: bold;">{number}</span>\u3000<span>{first}</span>{BOX}</div>')
    for i, text in enumerate(rest, start=2):
        num = chr(ord("０") + i) if i < 10 else str(i)
        body += (f'<div class="_div_ParagraphSentence _shokanBoxParent">'
                 f'<span style="font-weight: bold;">{num}</span>\u3000<span>{text}</span>{BOX}</div>')
    return f'<section id="" class="active Article">{cap}{body}{extra}</section>'


def _heading(kind: str, text: str, section_class: str | None = None) -> str:
    return (f'<section id="" class="active {section_class or kind}">'
            f'<div class="{kind}Title _div_{kind}Title _shokanBoxParent">'
            f'<div class="{kind}Title">{text}</div>{BOX}</div></section>')


ITEMS = (
    '<div class="_div_ItemSentence _shokanBoxParent"><span style="font-weight: bold;">一</span>'
    '\u3000<span>外国人</span>\u3000<span>日本の国籍を有しない者をいう。</span>' + BOX + '</div>'
    '<div class="_div_ItemSentence _shokanBoxParent"><span style="font-weight: bold;">二</span>'
    '\u3000<span>旅券</span>\u3000<span>次に掲げる文書をいう。</span>' + BOX + '</div>'
    '<div class="_div_Subitem1Sentence _shokanBoxParent"><span style="font-weight: bold;">イ</span>'
    '\u3000<span>日本国政府の発行した旅券</span>' + BOX + '</div>'
)
ARTICLE_TABLE = (
    '<div class="_shokanBoxParent"><table class="Table">'
    '<tr class="TableRow"><td class="col-pad"><div><span>区分</span></div></td>'
    '<td class="col-pad"><div><span>期間</span></div></td></tr>'
    '<tr class="TableRow"><td class="col-pad"><div><span>新規</span></div></td>'
    '<td class="col-pad"><div><span>十四日</span><br><span>（延長可）</span></div></td></tr>'
    '</table>' + BOX + '</div>'
)
LONG_PARAGRAPH = "外国人は、この法律の定めるところにより届け出なければならない。" * 12  # ~370 chars

SNIPPET = f"""<html lang="ja"><head><meta charset="utf-8"><title>見本法</title>
<style type="text/css">body {{ margin: 0; font-weight: bold; }}</style>
<script>var tracking = function() {{ return 1; }};</script></head>
<body><main id="contentsLaw" class="active"><div id="innerDocument" class="active">
<div><div id="lawTitleNo" class="_shokanBoxParent">令和六年法律第十号{BOX}</div>
<div id="lawTitle" class="_shokanBoxParent"><span>見本法</span>{BOX}</div></div>
<section id="TOC" class="active TOC">
<div class="_div_TOCLabel _shokanBoxParent"><span>目次</span>{BOX}</div>
<div class="_div_TOCChapter _shokanBoxParent"><div class="TOCChapterTitle">第一章\u3000総則<span>（第一条―第二条）</span></div></div>
<div class="_div_TOCChapter _shokanBoxParent"><div class="TOCChapterTitle">第二章\u3000在留<span>（第三条―第五条）</span></div></div>
</section>
<section id="MainProvision" class="active MainProvision">
{_heading("Chapter", "第一章　総則")}
{_article("第一条", "（目的）", "この法律は、見本のための法律とする。")}
{_article("第二条", "（定義）", "この法律において、次の各号に掲げる用語の意義は、当該各号に定めるところによる。",
          extra=ITEMS)}
{_heading("Chapter", "第二章　在留")}
{_heading("Section", "第一節　住居地", section_class="Sectiot")}
{_article("第三条", "（住居地の届出）",
          '中長期在留者は、住居地を定めた日から十四日以内に<ruby class="law-ruby">届<rt>とど</rt></ruby>け出なければならない。',
          "前項の届出は、市町村の長を経由してするものとする。",
          extra=ARTICLE_TABLE)}
{_article("第四条", None, "削除")}
{_heading("Section", "第二節　長い条", section_class="Section followingSection")}
{_article("第五条", "（長い条）", *([LONG_PARAGRAPH] * 6))}
</section>
<section id="" class="active SupplProvision">
<div class="_div_SupplProvisionLabel SupplProvisionLabel _shokanBoxParent"><span>附\u3000則</span>{BOX}</div>
<section class="active Paragraph">
<div class="_div_ParagraphCaption _shokanBoxParent"><span>（施行期日）</span>{BOX}</div>
<div class="_div_ParagraphSentence _shokanBoxParent"><span style="font-weight: bold;">１</span>\u3000<span>この法律は、令和七年四月一日から施行する。</span>{BOX}</div>
</section></section>
<section id="" class="active SupplProvision">
<div class="_div_SupplProvisionLabel SupplProvisionLabel _shokanBoxParent"><span>附\u3000則</span>\u3000（令和七年五月一日法律第二十号）\u3000抄{BOX}</div>
{_article("第二条", "（経過措置）", "この法律の施行前にした届出は、なお従前の例による。")}
</section>
<section id="" class="active AppdxTable">
<div class="_div_AppdxTableTitle _shokanBoxParent">別表第一（第三条関係）{BOX}</div>
<div class="_div_TableStructTitle _shokanBoxParent">一{BOX}</div>
<div class="_shokanBoxParent"><table class="Table">
<tr class="TableRow"><td class="col-pad"><div><span>在留資格</span></div></td><td class="col-pad"><div><span>活動</span></div></td></tr>
<tr class="TableRow"><td class="col-pad"><div><span>教授</span></div></td><td class="col-pad"><div><span>研究又は教育をする活動</span></div></td></tr>
<tr class="TableRow"><td class="col-pad"><div><span>\u3000</span></div></td><td class="col-pad"><div><span>芸術上の活動</span></div></td></tr>
</table>{BOX}</div>
</section>
<section id="" class="active AppdxNote">
<div class="_div_AppdxNoteTitle _shokanBoxParent">別記第一号様式（第三条関係）{BOX}</div>
<div class="_div_Note _shokanBoxParent"><a href="/./pict/1.pdf" class="fig_pdf_icon"></a>{BOX}</div>
</section>
</div></main></body></html>
"""

SNIPPET_NAME = "999AC0000000010_20250401_507AC0000000020.html"


@pytest.fixture()
def snippet(tmp_path: Path) -> Path:
    path = tmp_path / SNIPPET_NAME
    path.write_text(SNIPPET, encoding="utf-8")
    return path


@pytest.fixture()
def snippet_doc(snippet: Path) -> Document:
    return load_law_html(snippet)


def _by_id(doc: Document, section_id: str) -> list:
    return [b for b in doc.blocks if b.section_id == section_id]


# ---------------------------------------------------------------------------------------------
# Hand-written e-Gov-shaped markup


def test_snippet_document_metadata(snippet: Path, snippet_doc: Document) -> None:
    doc = snippet_doc
    assert doc.title == "見本法"
    assert doc.source_id == "999AC0000000010"
    assert doc.language == "ja"
    assert doc.release == "2025-04-01 revision"
    assert doc.url == "https://laws.e-gov.go.jp/law/999AC0000000010"
    assert doc.path == str(snippet)
    assert doc.meta["law_number"] == "令和六年法律第十号"
    assert doc.meta["amending_law_id"] == "507AC0000000020"


def test_snippet_overrides(snippet: Path) -> None:
    doc = load_law_html(snippet, source_id="mihon", title="T", language="ja-x", release="E",
                        url="https://example.invalid/law")
    assert (doc.source_id, doc.title, doc.language, doc.release, doc.url) == (
        "mihon", "T", "ja-x", "E", "https://example.invalid/law")


def test_snippet_article_paths_and_text(snippet_doc: Document) -> None:
    (first,) = _by_id(snippet_doc, "第一条")
    assert first.section_path == ("第一章 総則", "第一条（目的）")
    assert first.text == "（目的）\n第一条 この法律は、見本のための法律とする。"
    assert first.kind == "text"

    (second,) = _by_id(snippet_doc, "第二条")
    assert second.text.splitlines()[1:] == [
        "第二条 この法律において、次の各号に掲げる用語の意義は、当該各号に定めるところによる。",
        "一 外国人 日本の国籍を有しない者をいう。",
        "二 旅券 次に掲げる文書をいう。",
        "イ 日本国政府の発行した旅券",
    ]


def test_snippet_heading_stack_and_ruby(snippet_doc: Document) -> None:
    text_block, table_block = _by_id(snippet_doc, "第三条")
    assert text_block.section_path == ("第二章 在留", "第一節 住居地", "第三条（住居地の届出）")
    # the ruby reading (とど) is not read into the text; 項 number ２ is kept
    assert "十四日以内に届け出なければ" in text_block.text
    assert "\n２ 前項の届出は" in text_block.text
    # a table inside an article is its own block under the same article
    assert table_block.kind == "table"
    assert table_block.section_path == text_block.section_path
    assert table_block.text == "区分 | 期間\n新規 | 十四日 （延長可）"

    (deleted,) = _by_id(snippet_doc, "第四条")
    assert deleted.section_path[-1] == "第四条"  # no caption printed, none invented
    assert deleted.text == "第四条 削除"


def test_snippet_long_article_split_at_paragraphs(snippet_doc: Document) -> None:
    blocks = _by_id(snippet_doc, "第五条")
    assert len(blocks) > 1
    assert {b.section_path for b in blocks} == {("第二章 在留", "第二節 長い条", "第五条（長い条）")}
    assert all(len(b.text) <= MAX_BLOCK_CHARS for b in blocks)
    assert blocks[0].text.startswith("（長い条）\n第五条 ")
    # every later block starts on a 項 number, nothing is lost or duplicated
    assert all(re.match(r"^[２-９]\s", b.text) for b in blocks[1:])
    assert sum(b.text.count(LONG_PARAGRAPH) for b in blocks) == 6


def test_snippet_supplementary_provisions(snippet_doc: Document) -> None:
    (original,) = [b for b in snippet_doc.blocks if b.section_path == ("附則",)]
    assert original.section_id == "附則"
    assert original.text == "（施行期日）\n１ この法律は、令和七年四月一日から施行する。"

    (amending,) = _by_id(snippet_doc, "附則第二条")
    assert amending.section_path == ("附則 （令和七年五月一日法律第二十号） 抄", "第二条（経過措置）")
    # the main-provision 第二条 is a different article
    assert "経過措置" not in _by_id(snippet_doc, "第二条")[0].text


def test_snippet_appended_table_and_forms(snippet_doc: Document) -> None:
    (table,) = _by_id(snippet_doc, "別表第一")
    assert table.kind == "table"
    assert table.section_path == ("別表第一",)
    assert table.text == ("別表第一（第三条関係）\n一\n在留資格 | 活動\n教授 | 研究又は教育をする活動\n"
                          "芸術上の活動")
    # a form published only as a PDF has no text: reported, not indexed
    assert not any("別記第一号様式" in b.text for b in snippet_doc.blocks)
    (issue,) = snippet_doc.issues
    assert issue.reason == "unsupported" and "別記第一号様式" in issue.detail


def test_snippet_skips_toc_and_chrome(snippet_doc: Document) -> None:
    text = snippet_doc.text
    for remnant in ("目次", "（第一条―第二条）", "margin", "tracking", "function", "<", "{"):
        assert remnant not in text
    assert all(b.section_id for b in snippet_doc.blocks)
    assert "\u3000" not in text and "  " not in text


def test_is_law_html(snippet: Path, tmp_path: Path) -> None:
    assert is_law_html(snippet)
    other = tmp_path / "page.html"
    other.write_text("<html><body><p>お知らせ</p></body></html>", encoding="utf-8")
    assert not is_law_html(other)
    assert not is_law_html(tmp_path / "missing.html")
    assert not is_law_html(tmp_path)  # a directory


# ---------------------------------------------------------------------------------------------
# Errors


def _assert_one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> None:
    message = str(exc.value)
    assert path.name in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope_20250101_x.html"
    with pytest.raises(IngestError) as exc:
        load_law_html(path)
    _assert_one_line_naming(exc, path)


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.html"
    path.write_bytes(content)
    with pytest.raises(IngestError, match="empty") as exc:
        load_law_html(path)
    _assert_one_line_naming(exc, path)


@pytest.mark.parametrize("content", [
    "<html><head><title>ニュース</title></head><body><p>本文</p></body></html>",
    "not html at all",
])
def test_not_a_law_page(tmp_path: Path, content: str) -> None:
    path = tmp_path / "news.html"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError, match="not an e-Gov law page") as exc:
        load_law_html(path)
    _assert_one_line_naming(exc, path)


def test_control_characters_next_to_ruby_are_read_as_spaces(tmp_path: Path) -> None:
    # Found by tests/test_fuzz.py: dropping the <rt> rewrites the text before it, which holds \x0b,
    # and lxml refuses to write a control character back.
    path = tmp_path / "100AC0000000001_20250601_000.html"
    path.write_text('<html><body><div id="lawTitle" class="_shokanBoxParent">法</div>'
                    '<section class="active MainProvision" id="MainProvision">'
                    '<section class="active Article"><div class="_div_ArticleTitle">'
                    '<span style="font-weight: bold;">第一条</span>\x0b在留<rt>ざいりゅう</rt>カード'
                    '\x00を</div></section></section></body></html>', encoding="utf-8")
    doc = load_law_html(path)
    text = " ".join(b.text for b in doc.blocks)
    assert "在留" in text and "カード" in text and "ざいりゅう" not in text
    assert not any(ch in text for ch in "\x00\x0b")


# ---------------------------------------------------------------------------------------------
# Real e-Gov files (skipped when the shared corpus is absent)


def _law_files() -> list[Path]:
    if not LAWS_DIR.is_dir():
        pytest.skip(f"shared law corpus not found at {LAWS_DIR}")
    files = sorted(LAWS_DIR.glob("*.html"))
    if not files:
        pytest.skip(f"no law HTML files in {LAWS_DIR}")
    return files


@pytest.fixture(scope="module")
def all_docs() -> dict[str, Document]:
    return {p.name.split("_")[0]: load_law_html(p) for p in _law_files()}


def test_all_files_load(all_docs: dict[str, Document]) -> None:
    assert len(all_docs) == 22
    for law_id, doc in all_docs.items():
        assert doc.source_id == law_id
        assert doc.title and doc.language == "ja"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} revision", doc.release)
        assert doc.url == f"https://laws.e-gov.go.jp/law/{law_id}"
        assert len(doc.blocks) > 20
        assert is_law_html(Path(doc.path))


def test_immigration_act_residence_articles(all_docs: dict[str, Document]) -> None:
    doc = all_docs[IMMIGRATION_ACT]
    assert doc.title == "出入国管理及び難民認定法"
    (art_19_9,) = _by_id(doc, "第十九条の九")
    # 在留カード articles sit in 第四章 第一節 第二款, not at top level
    assert art_19_9.section_path == (
        "第四章 在留及び出国", "第一節 在留", "第二款 中長期の在留", "第十九条の九（住居地の変更届出）")
    assert art_19_9.section_path[-1].startswith(art_19_9.section_id)
    (art_19_7,) = _by_id(doc, "第十九条の七")
    assert "（新規上陸後の住居地届出）" in art_19_7.text
    assert "十四日以内" in art_19_7.text
    assert art_19_7.section_path[:3] == art_19_9.section_path[:3]


def test_immigration_act_status_table(all_docs: dict[str, Document]) -> None:
    tables = _by_id(all_docs[IMMIGRATION_ACT], "別表第一")
    assert tables and all(b.kind == "table" for b in tables)
    joined = "\n".join(b.text for b in tables)
    assert "留学 | 本邦の大学" in joined
    assert "特定技能 | " in joined


def test_every_block_has_section_id(all_docs: dict[str, Document]) -> None:
    for doc in all_docs.values():
        for block in doc.blocks:
            assert block.section_id, (doc.source_id, block.section_path)
            assert block.section_path, (doc.source_id, block.section_id)
            assert block.text.strip()


TOC_LINE = re.compile(r"^第[一二三四五六七八九十百]+章(の[一二三四五六七八九十]+)? .*（第.*条―.*）$")
REMNANT = re.compile(r"[<>{}]|margin|font-weight|xpath|_shokanBox|function\s*\(")


def test_no_toc_or_markup_remnants(all_docs: dict[str, Document]) -> None:
    for doc in all_docs.values():
        for block in doc.blocks:
            for line in block.text.splitlines():
                assert line != "目次", (doc.source_id, block.section_id)
                assert not TOC_LINE.match(line), (doc.source_id, line)
            assert not REMNANT.search(block.text), (doc.source_id, block.section_id)
    assert "第一章 総則（第一条―第二条の五）" not in all_docs[IMMIGRATION_ACT].text


def test_supplementary_provisions_are_labelled(all_docs: dict[str, Document]) -> None:
    for doc in all_docs.values():
        suppl = [b for b in doc.blocks if b.section_path[0].startswith("附則")]
        assert suppl, doc.source_id
        for block in doc.blocks:
            in_suppl = block.section_path[0].startswith("附則")
            assert block.section_id.startswith("附則") == in_suppl, (doc.source_id, block)
    ids = {b.section_id for b in all_docs[IMMIGRATION_ACT].blocks}
    assert "附則第二条" in ids and "第二条" in ids


def test_blocks_are_split_when_long(all_docs: dict[str, Document]) -> None:
    sizes = [len(b.text) for doc in all_docs.values() for b in doc.blocks]
    # only single sentences that have no 項/号 boundary inside may exceed the limit
    assert sum(s > MAX_BLOCK_CHARS for s in sizes) < 0.005 * len(sizes)
