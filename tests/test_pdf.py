"""PDF loading: headings, printed page labels, running headers, encryption, broken files,
image-only and garbled pages (generated PDFs, plus the real corpus files when present)."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from ingest.language import guess_language
from ingest.pdf import load_pdf
from ingest.pdf.pagenumbers import parse_page_number
from ingest.pdf.text import clean_line, join_lines
from ingest.quality import assess_page_text, char_script, garbled_line_mask
from kb.errors import IngestError
from kb.model import Document
from tests import pdfgen

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "pdfs"
MHLW = "mhlw_model_shugyo_kisoku_001018385.pdf"
EGOV = "egov_shobo_ho_S23_186.pdf"
SOUMU = "soumu_johotsushin_hakusho_R6_ch4s1_excerpt.pdf"
MOFA = "mofa_embassy_ph_visa_nikkeijin_requirements_en.pdf"
SCAN = "grumman_1974_service_bulletin_scan_imageonly.pdf"
VERTICAL = "vertical_no_tounicode_sample.pdf"


# --- generated guidebook -------------------------------------------------------------------

@pytest.fixture(scope="module")
def pdf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdfs")


@pytest.fixture(scope="module")
def guidebook(pdf_dir: Path) -> pdfgen.GuidebookSpec:
    return pdfgen.make_guidebook(pdf_dir / "guidebook.pdf")


@pytest.fixture(scope="module")
def doc(guidebook: pdfgen.GuidebookSpec) -> Document:
    return load_pdf(guidebook.path)


def _blocks_with(doc: Document, needle: str) -> list:
    return [b for b in doc.blocks if needle in b.text]


def test_headings_become_section_paths_and_ids(doc: Document) -> None:
    card = _blocks_with(doc, pdfgen.CARD_SENTENCE)[0]
    assert card.section_path == ("第1章 入国・在留手続", "1 在留カード")
    assert card.section_id == "1.1"
    loss = _blocks_with(doc, pdfgen.LOSS_SENTENCE)[0]
    assert loss.section_path == ("第1章 入国・在留手続", "1 在留カード", "(3) 紛失")
    assert loss.section_id == "1.1.3"
    renew = _blocks_with(doc, pdfgen.RENEW_SENTENCE)[0]
    assert renew.section_path == ("第1章 入国・在留手続", "2 在留期間の更新")
    assert renew.section_id == "1.2"
    work = _blocks_with(doc, pdfgen.WORK_SENTENCE)[0]
    assert work.section_path == ("第2章 仕事", "1 働くための在留資格")
    assert work.section_id == "2.1"
    preface = _blocks_with(doc, pdfgen.PREFACE_SENTENCE)[0]
    assert preface.section_path == ("はじめに",) and preface.section_id is None


def test_section_continues_across_page_break(doc: Document) -> None:
    cont = _blocks_with(doc, "盗難や災害で在留カードを失った場合も")[0]
    assert cont.page_index == 2
    assert cont.section_path[-1] == "(3) 紛失" and cont.section_id == "1.1.3"


def test_heading_lines_are_not_body_text(doc: Document) -> None:
    for block in doc.blocks:
        lines = block.text.splitlines()
        assert "1 在留カード" not in lines and "第1章 入国・在留手続" not in lines


def test_every_block_has_page_index_and_printed_label(doc: Document,
                                                      guidebook: pdfgen.GuidebookSpec) -> None:
    assert doc.blocks
    for block in doc.blocks:
        assert block.page_index is not None
        assert block.page_label == guidebook.labels[block.page_index]
    assert _blocks_with(doc, pdfgen.PREFACE_SENTENCE)[0].page_label == "i"
    assert _blocks_with(doc, pdfgen.LOSS_SENTENCE)[0].page_index == 1
    assert _blocks_with(doc, pdfgen.WORK_SENTENCE)[0].page_label == "5"


def test_printed_numbers_give_labels_without_pagelabels(pdf_dir: Path) -> None:
    spec = pdfgen.make_guidebook(pdf_dir / "no_labels.pdf", page_labels=False)
    doc = load_pdf(spec.path)
    labels = {b.page_index: b.page_label for b in doc.blocks}
    # pypdf would say "2", "3", "5": the printed numbers are what a reader cites.
    assert labels == {0: "i", 1: "1", 2: "2", 5: "5"}
    # unnumbered pages between printed 2 and 5
    assert [(i.page_index, i.page_label) for i in doc.issues] == [(3, "3"), (4, "4")]


def test_running_header_and_page_numbers_are_stripped(doc: Document) -> None:
    for block in doc.blocks:
        assert pdfgen.RUNNING_HEADER not in block.text
        assert "ガイドブック　第8版" not in block.text
        for line in block.text.splitlines():
            assert not re.fullmatch(r"[-\s]*\d+[-\s]*|[-\s]*i[-\s]*", line), line


def test_wrapped_japanese_sentences_are_joined(doc: Document) -> None:
    for sentence in (pdfgen.LOSS_SENTENCE, pdfgen.CARD_SENTENCE, pdfgen.RENEW_SENTENCE,
                     pdfgen.WORK_SENTENCE):
        assert _blocks_with(doc, sentence), sentence
    loss = _blocks_with(doc, pdfgen.LOSS_SENTENCE)[0]
    assert loss.text.count("\n") == 1  # two paragraphs, joined lines inside each


def test_image_only_pages_are_reported_and_skipped(doc: Document,
                                                   guidebook: pdfgen.GuidebookSpec) -> None:
    assert [i.page_index for i in doc.issues] == list(guidebook.image_pages)
    for issue in doc.issues:
        assert issue.reason == "image-only"
        assert issue.page_label == guidebook.labels[issue.page_index]
        assert issue.source == guidebook.path.name
    assert not {b.page_index for b in doc.blocks} & set(guidebook.image_pages)


def test_heading_on_illustrated_chapter_opener_still_applies(doc: Document) -> None:
    work = _blocks_with(doc, pdfgen.WORK_SENTENCE)[0]
    assert work.section_path == ("第2章 仕事", "1 働くための在留資格")


def test_document_defaults_and_overrides(doc: Document, guidebook: pdfgen.GuidebookSpec) -> None:
    assert doc.source_id == guidebook.path.name
    assert doc.title == "生活・就労ガイドブック"  # from /Title
    assert doc.language == "ja"
    assert doc.path == str(guidebook.path)
    custom = load_pdf(guidebook.path, source_id="gb-ja", title="Guidebook", language="ja-easy",
                      release="sample-2026", url="https://example.org/gb.pdf")
    assert (custom.source_id, custom.title, custom.language, custom.release, custom.url) == (
        "gb-ja", "Guidebook", "ja-easy", "sample-2026", "https://example.org/gb.pdf")
    assert custom.issues[0].source == "gb-ja"


def test_empty_user_password_pdf_opens(pdf_dir: Path, doc: Document) -> None:
    spec = pdfgen.make_guidebook(pdf_dir / "aes_empty.pdf", user_password="")
    encrypted = load_pdf(spec.path)
    assert [b.text for b in encrypted.blocks] == [b.text for b in doc.blocks]


def test_password_protected_pdf_raises(pdf_dir: Path) -> None:
    spec = pdfgen.make_guidebook(pdf_dir / "aes_secret.pdf", user_password="secret")
    with pytest.raises(IngestError, match=r"aes_secret\.pdf.*encrypted with a password.*qpdf"):
        load_pdf(spec.path)


@pytest.mark.parametrize("keep", [0.1, 0.4, 0.8])
def test_truncated_pdf_raises(pdf_dir: Path, guidebook: pdfgen.GuidebookSpec, keep: float) -> None:
    bad = pdfgen.make_corrupt(pdf_dir / f"truncated_{keep}.pdf", guidebook.path, keep)
    with pytest.raises(IngestError, match=r"truncated_.*corrupt or truncated") as info:
        load_pdf(bad)
    assert "\n" not in str(info.value)


def test_empty_missing_and_non_pdf_files_raise(pdf_dir: Path) -> None:
    empty = pdf_dir / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.pdf.*empty"):
        load_pdf(empty)
    with pytest.raises(IngestError, match=r"missing\.pdf.*not found"):
        load_pdf(pdf_dir / "missing.pdf")
    text = pdf_dir / "notes.pdf"
    text.write_text("これはPDFではありません。\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"notes\.pdf.*not a PDF"):
        load_pdf(text)
    with pytest.raises(IngestError, match="directory"):
        load_pdf(pdf_dir)


def test_english_edition_headings_and_word_wrapping(pdf_dir: Path) -> None:
    doc = load_pdf(pdfgen.make_english_guidebook(pdf_dir / "guidebook_en.pdf"))
    (block,) = doc.blocks
    assert block.text == pdfgen.EN_LOSS_SENTENCE  # lines joined with a space between words
    assert block.section_path == ("Chapter 1 Entry and Residence Procedures",
                                  "1 Residence Card", "(3) Loss")
    assert block.section_id == "1.1.3"
    assert block.page_label == "12"  # the printed number, not PDF page 1
    assert doc.language == "en"


def test_all_pages_image_only_still_returns_document(pdf_dir: Path) -> None:
    scan = pdfgen.make_image_only(pdf_dir / "scan.pdf", pages=3)
    doc = load_pdf(scan)
    assert doc.blocks == ()
    assert [(i.reason, i.page_index) for i in doc.issues] == [("image-only", n) for n in range(3)]
    assert doc.title == "scan"


# --- text repair and quality ----------------------------------------------------------------

def test_join_lines_and_clean_line() -> None:
    assert join_lines("在留カードを紛失した場合は、その事実を", "知った日から14日以内に") == \
        "在留カードを紛失した場合は、その事実を知った日から14日以内に"
    assert join_lines("Residence cards are issued to", "mid- to long-term residents") == \
        "Residence cards are issued to mid- to long-term residents"
    assert join_lines("AIの", "Web") == "AIのWeb"
    assert clean_line("在 留 カ ー ド の 紛 失") == "在留カードの紛失"       # letter-spaced extraction
    assert clean_line("第２０条 休日は、次のとおりとする。") == "第２０条 休日は、次のとおりとする。"
    assert clean_line("● \x07IT 企業が   開発した ") == "● IT 企業が 開発した"


def test_printed_page_number_forms() -> None:
    assert parse_page_number("- 12 -") == (("", 12), "12")
    assert parse_page_number("１２") == (("", 12), "12")
    assert parse_page_number("— 7 —") == (("", 7), "7")
    assert parse_page_number("3-14") == (("3", 14), "3-14")  # chapter 3, page 14
    assert parse_page_number("ii") == (None, "ii")
    assert parse_page_number("第1章") is None and parse_page_number("12月") is None


CLEAN_LINES = [
    "在留カードを紛失した場合は、14日以内に再交付の申請をしてください。",
    "生成AIの進展・普及に伴う著作権を含む知的財産権等（図表Ⅰ-4-1-2）",
    "https://www.moj.go.jp/isa/index.html 出入国在留管理庁",
    "Thẻ cư trú là giấy tờ quan trọng, bạn phải luôn mang theo bên mình.",
    "บัตรประจำตัวผู้พำนักเป็นเอกสารสำคัญ กรุณาพกติดตัวเสมอ",
    "निवास कार्ड एक महत्वपूर्ण कागजात हो। सधैं साथमा राख्नुहोस्।",
    "재류카드는 중요한 서류입니다. 항상 휴대하십시오.",
    "在留卡是重要的证件，请随身携带。",
    "Карта резидента — важный документ. Всегда носите её с собой.",
    "Оршин суух карт бол чухал баримт бичиг юм.",
    "နေထိုင်ခွင့်ကတ်သည် အရေးကြီးသော စာရွက်စာတမ်းဖြစ်သည်။",
    "ប័ណ្ណស្នាក់នៅ គឺជាឯកសារសំខាន់។",
    "¿Dónde puedo renovar mi tarjeta de residencia? Cartão de residência «Zairyu»",
    "Kartu izin tinggal adalah dokumen penting. Ang residence card ay mahalagang dokumento.",
    "γ-GTP の検査値が高い場合は、医療機関を受診してください。",
]

GARBLED_LINES = [
    "σδλϧςΫϊϩδʔͷ՝\u0b4aͱݱঢ়ͷରԠࡦ",             # headings of the white paper (no ToUnicode)
    "ୈ 1 અ AI ͷਐԽʹ\u0d50͏՝\u0b4aͱݱঢ়ͷऔ\u0aca",
    " 1 ੜ\u0a52 AI ๊͕͑Δ՝\u0b4a",
    "ୈ",
    "Θͨ͘͠ͱ͍;ݱ\u09c5\u0378၊ఆ͞Εͨ༗ަػྲྀి౯ͷͻͱͭͷ੨͍র໌Ͱ͢ớ",  # vertical text sample
    "‚±‚ñ‚É‚¿‚Í ‚Ý‚È‚³‚ñ",                            # Shift_JIS read as cp1252
    "\ue000\ue001\ue002\ue003 \ue004\ue005",                  # private-use glyph codes
]


def test_clean_multilingual_lines_are_not_garbled() -> None:
    assert garbled_line_mask(CLEAN_LINES) == [False] * len(CLEAN_LINES)


def test_mojibake_lines_are_garbled() -> None:
    page = ["進化してきたAIは我々の生活に便利さをもたらす一方で、活用に当たっては留意すべきリスク",
            *GARBLED_LINES, "ষ"]
    assert garbled_line_mask(page) == [False] + [True] * (len(GARBLED_LINES) + 1)


def test_assess_page_text() -> None:
    body = "\n".join(CLEAN_LINES[:2] * 3)
    assert assess_page_text(body) == (True, "", "")
    assert assess_page_text("", has_images=True)[:2] == (False, "image-only")
    assert assess_page_text("  12  ")[:2] == (False, "empty")
    assert assess_page_text("\n".join(GARBLED_LINES))[:2] == (False, "garbled")
    ok, reason, detail = assess_page_text(body + "\n" + GARBLED_LINES[0])
    assert (ok, reason) == (True, "garbled") and "1 of" in detail


def test_guess_language() -> None:
    assert guess_language("在留カードを紛失した場合は、再交付の申請をしてください。") == "ja"
    assert guess_language("Residence card: apply within 14 days (在留カード).") == "en"
    assert char_script("あ") == "cjk" and char_script("A") == "latin" and char_script("1") is None


# --- real corpus files ------------------------------------------------------------------------

def _corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file not available: {path}")
    return path


def _implausible_chars(text: str) -> list[str]:
    bad = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "\ufffd" or cat in ("Co", "Cn", "Cs") or (cat == "Cc" and ch not in "\n\t"):
            bad.append(ch)
    return bad


@pytest.fixture(scope="module")
def real_docs() -> dict[str, Document]:
    return {}


def _load_real(real_docs: dict[str, Document], name: str) -> Document:
    if name not in real_docs:
        real_docs[name] = load_pdf(_corpus(name))
    return real_docs[name]


@pytest.mark.parametrize("name", [MHLW, EGOV, SOUMU, MOFA])
def test_clean_real_files_yield_cited_plausible_blocks(real_docs: dict[str, Document],
                                                       name: str) -> None:
    doc = _load_real(real_docs, name)
    assert len(doc.blocks) >= 5
    for block in doc.blocks:
        assert block.page_index is not None and block.page_label
        assert block.text.strip()
        assert not _implausible_chars(block.text), (block.page_index, block.text[:80])
        assert not any(garbled_line_mask(block.text.splitlines())), block.text[:80]
    assert {b.page_index for b in doc.blocks}  # pages indexed
    skipped = [i for i in doc.issues if not (i.reason == "garbled" and "partly" in i.detail)]
    assert not skipped


def test_mhlw_structure_and_printed_labels(real_docs: dict[str, Document]) -> None:
    doc = _load_real(real_docs, MHLW)
    assert doc.language == "ja" and doc.title.startswith("モデル就業規則")
    art1 = [b for b in doc.blocks if b.section_id == "第１条"]
    assert art1 and art1[0].section_path == ("第１章 総則", "第１条（目的）")
    assert art1[0].page_label == "10"  # printed "- 10 -" on PDF page index 9
    assert all(b.page_label == str(b.page_index + 1) for b in doc.blocks)
    assert not [b for b in doc.blocks if re.search(r"^-\s*\d+\s*-$", b.text, re.M)]


def test_egov_law_articles(real_docs: dict[str, Document]) -> None:
    doc = _load_real(real_docs, EGOV)
    first = [b for b in doc.blocks if b.section_id == "第一条"][0]
    assert first.section_path == ("第一章\u3000総則", "第一条")
    assert first.text.startswith("第一条\u3000この法律は")
    assert any(b.section_id == "第五条の二" for b in doc.blocks)


def test_white_paper_garbled_headings_are_dropped(real_docs: dict[str, Document]) -> None:
    doc = _load_real(real_docs, SOUMU)
    labels = [b.page_label for b in doc.blocks]
    assert labels[0] == "46" and labels[-1] == "55"  # the excerpt starts at printed page 46
    allowed = {None, "cjk", "latin"}
    for block in doc.blocks:
        for part in (block.text, *block.section_path):
            odd = {ch for ch in part if char_script(ch) not in allowed}
            assert not odd, (block.page_label, sorted(odd))
        assert "情報通信白書" not in block.text  # running footer
        assert ".indd" not in block.text        # printer's slug outside the crop box
    partial = [i for i in doc.issues if i.reason == "garbled"]
    assert partial and partial[0].page_index == 0 and "partly garbled" in partial[0].detail
    assert any("2 国産 LLM の開発" in b.section_path for b in doc.blocks)


def test_image_only_scan_yields_no_blocks(real_docs: dict[str, Document]) -> None:
    doc = _load_real(real_docs, SCAN)
    assert doc.blocks == ()
    assert [i.reason for i in doc.issues] == ["image-only", "image-only"]
    assert [i.page_index for i in doc.issues] == [0, 1]


def test_vertical_text_without_tounicode_is_reported(real_docs: dict[str, Document]) -> None:
    doc = _load_real(real_docs, VERTICAL)
    assert doc.blocks == ()
    (issue,) = doc.issues
    assert issue.reason == "garbled" and issue.page_index == 0 and issue.page_label == "1"
