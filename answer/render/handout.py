"""The resident's handout as one self-contained, printable HTML page (A4; print CSS; no external files).

Each answer section sits in the resident's edition beside the Japanese, each with its citation
(document, edition, section, printed page); then the official guidebook page with a QR code
(``segno``, inline SVG), the date, and the sample notice while the sample is in use. The page's own
words are Japanese and English; the guidebook text is in the edition's language, marked with
``lang`` so the browser picks the right font and Japanese line-breaking rules (``line-break: strict``).

To stay on one page, sections are kept while they fit a column's budget of text; the first one is
always kept (cut at a sentence end if it alone is too long) and the ones left out are listed by
citation, so the desk can print them separately.
"""
from __future__ import annotations

import html
import re

import segno

from answer.handout import Handout, HandoutPart, HandoutSection
from answer.render.linebreak import display_width

COLUMN_BUDGET = 1700  # display cells of text per column that fit one A4 page with the header and footer

CSS = """
@page { size: A4; margin: 12mm; }
html { font-family: "Noto Sans", "Noto Sans CJK JP", "Noto Sans JP", "Noto Sans Devanagari", "Noto Sans Thai",
       "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif; font-size: 9.5pt; line-height: 1.5; color: #111; }
:lang(ja) { font-family: "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif;
            line-break: strict; }
body { margin: 0 auto; max-width: 186mm; }
@media screen { body { margin: 12mm auto; } }
header .kicker { font-size: 8.5pt; color: #444; }
h1 { font-size: 14pt; margin: 1mm 0 1mm; }
.meta { font-size: 8.5pt; color: #444; }
.notice { border: 0.5mm solid #b00020; background: #fff3f3; padding: 1.5mm 3mm; margin: 3mm 0; font-size: 8.5pt; }
.notice p { margin: 0.5mm 0; }
.unsure { border: 0.5mm solid #a60; background: #fff8e6; padding: 1.5mm 3mm; margin: 3mm 0; font-size: 8.5pt; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 6mm; border-top: 0.4mm solid #333;
        padding-top: 2mm; margin-top: 3mm; break-inside: avoid; }
.pair.single { grid-template-columns: 1fr; }
h2 { font-size: 10.5pt; margin: 0 0 1mm; }
article p { margin: 0 0 1.2mm; }
.cite { font-size: 8pt; color: #333; border-left: 1mm solid #888; padding-left: 2mm; margin-top: 1.5mm; }
.missing { color: #555; font-style: italic; }
.more { font-size: 8pt; margin-top: 3mm; }
footer { display: flex; gap: 4mm; align-items: center; border-top: 0.4mm solid #333; margin-top: 4mm;
         padding-top: 2mm; font-size: 8.5pt; break-inside: avoid; }
footer svg { width: 24mm; height: 24mm; flex: none; }
a { color: inherit; overflow-wrap: anywhere; }
"""


def to_html(handout: Handout) -> str:
    """The handout page: UTF-8 HTML with its CSS and QR code inline."""
    kept, left_out = fit(handout.sections)
    e = html.escape
    body = [f'<header><div class="kicker">生活・就労ガイドブックより / From the Living and Working Guidebook</div>',
            f'<h1 lang="{e(_question_lang(handout))}">{e(handout.question)}</h1>',
            f'<div class="meta">作成日 Date: {e(handout.date)} &#8195; 版 Edition: '
            f'{e(handout.language)}{" / ja" if handout.language != "ja" else ""}</div></header>']
    if handout.notices:
        body.append('<aside class="notice">' + "".join(f"<p>{e(n)}</p>" for n in handout.notices) + "</aside>")
    if handout.verdict == "unsure":
        body.append('<aside class="unsure">この回答は確実ではありません。窓口で確認してください。 / '
                    'This answer is uncertain: please check it at the desk.</aside>')
    body += [_pair(s, handout.language) for s in kept]
    if left_out:
        body.append('<div class="more">ほかの関連項目 / Also see: ' + "; ".join(
            e(p.citation.label()) for s in left_out for p in (s.resident or s.japanese,) if p) + "</div>")
    qr = segno.make(handout.official_url, error="m").svg_inline(scale=2, omitsize=True) if handout.official_url else ""
    body.append(f'<footer>{qr}<div>公式ガイドブック（出入国在留管理庁） / Official guidebook (Immigration Services '
                f'Agency of Japan):<br><a href="{e(handout.official_url)}">{e(handout.official_url)}</a><br>'
                '最新の正確な情報は公式版と窓口で確認してください。 / Check the latest information in the official '
                'guidebook and at the desk.</div></footer>')
    title = f"{handout.question} ({handout.date})"
    return (f'<!doctype html>\n<html lang="{e(handout.language)}">\n<head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title>\n<style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _question_lang(handout: Handout) -> str:
    return "ja" if re.search(r"[\u3040-\u30ff]", handout.question) else handout.language


def _pair(section: HandoutSection, language: str) -> str:
    sides = [(section.resident, language), (section.japanese, "ja")]
    if section.japanese is None:  # the resident reads Japanese: one column
        sides = sides[:1]
    columns = [_column(part, lang, language) for part, lang in sides]
    return f'<section class="pair{" single" if len(columns) == 1 else ""}">' + "".join(columns) + "</section>"


def _column(part: HandoutPart | None, lang: str, resident: str) -> str:
    e = html.escape
    if part is None:
        return (f'<article lang="ja"><p class="missing">この項目は {e(resident)} 版にありません。日本語版をご覧ください。'
                f' / This section is not in the {e(resident)} edition: see the Japanese.</p></article>')
    c = part.citation
    heading = " ".join(filter(None, (c.section_id if c.section_id and not c.section_id.startswith("第") else "",
                                     c.section_path[-1] if c.section_path else c.title)))
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in part.text.split("\n") if p.strip())
    return (f'<article lang="{e(c.language or lang)}"><h2>{e(heading)}</h2>{paragraphs}'
            f'<p class="cite">{e(c.label())}</p></article>')


def _cells(part: HandoutPart | None) -> int:
    return display_width(part.text) if part else 0


def fit(sections: tuple[HandoutSection, ...]) -> tuple[list[HandoutSection], list[HandoutSection]]:
    """(sections to print, sections left out) so each column stays within ``COLUMN_BUDGET``."""
    kept: list[HandoutSection] = []
    used = [0, 0]
    for i, s in enumerate(sections):
        need = [_cells(s.resident), _cells(s.japanese)]
        if kept and any(u + n > COLUMN_BUDGET for u, n in zip(used, need)):
            return kept, list(sections[i:])
        if not kept:
            s = HandoutSection(s.section_id, _shorten(s.resident), _shorten(s.japanese))
            need = [_cells(s.resident), _cells(s.japanese)]
        kept.append(s)
        used = [u + n for u, n in zip(used, need)]
    return kept, []


def _shorten(part: HandoutPart | None) -> HandoutPart | None:
    """``part`` cut at the last sentence end within the budget, saying where the rest is printed."""
    if part is None or display_width(part.text) <= COLUMN_BUDGET:
        return part
    ends = [m.end() for m in re.finditer(r"[。．！？]|[.!?](?=\s)", part.text)
            if display_width(part.text[:m.end()]) <= COLUMN_BUDGET - 40]
    cut = part.text[:ends[-1]] if ends else part.text[:COLUMN_BUDGET // 2]
    more = f"…（続きはガイドブック {part.pages} / continued in the guidebook, {part.pages}）"
    return HandoutPart(part.citation, cut + "\n" + more, part.pages)
