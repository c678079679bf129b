"""Is the text pypdf extracted from a page something a reader would recognise?

PDFs whose fonts lack a ToUnicode map extract as "mojibake": CIDs read as code points land
in a random spread of scripts (Greek, Coptic, Bengali, Tamil, combining marks, unassigned
code points), or single-byte codes read as Latin-1 give symbol soup. Indexing that text would
put unreadable passages in front of consultation-desk staff, so such pages (or lines) are
dropped and reported instead. Real text in any edition language has a stable shape: letters
of one script (plus Latin and, for CJK languages, Han/kana), marks attached to a base letter
of their own script, and almost no control, private-use or unassigned code points.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

# --- thresholds (tuned on the six corpus PDFs, generated PDFs and the multilingual samples
# in tests/test_pdf.py) ----------------------------------------------------------------------
# A page with fewer letters than this (after running headers/page numbers are stripped) and
# an image on it is a scan/figure page: a caption or two is not worth a citation.
IMAGE_ONLY_MAX_LETTERS = 20
# A line is garbled when at least this share of its letters is implausible, and at least
# GARBLED_LINE_MIN_HITS of them (one odd character in a long line is a stray symbol, not
# mojibake). Measured: clean corpus lines score at most 0.04 hits/letter, mojibake lines
# 0.5-1.6 (marks and unassigned code points are hits but not letters), so 0.25 sits in the gap.
GARBLED_LINE_RATIO = 0.25
GARBLED_LINE_MIN_HITS = 2
# Very short lines (a lone mis-mapped glyph such as "ୈ") cannot reach two hits; for them one
# hit is enough when it is at least half of the line.
SHORT_LINE_LETTERS = 4
# A script that makes up less than this share of a page's clean letters is "foreign" there;
# a short line written mostly in a foreign script is a stray mis-mapped glyph.
PAGE_SCRIPT_MIN_SHARE = 0.10
FOREIGN_LINE_RATIO = 0.5
# If this share of a page's letters is in garbled lines the page is skipped as a whole: what
# is left is fragments (and mojibake usually hits the body font, not just headings).
GARBLED_PAGE_RATIO = 0.5
# Fewer clean letters than this left after dropping garbled lines: nothing worth indexing.
MIN_CLEAN_LETTERS = 20

# Scripts that coexist with any other on a real page: Latin (URLs, acronyms, names) and
# Han/kana (Japanese terms quoted in every edition of the guidebook).
_UNIVERSAL = frozenset({"latin", "cjk"})
# Adjacent letters of these script pairs are normal inside one word ("AIの", Korean mixed
# script); any other change of script between two adjacent letters is a mojibake signal.
_OK_PAIRS = frozenset({frozenset({"latin", "cjk"}), frozenset({"hangul", "cjk"}),
                       frozenset({"latin", "hangul"})})
_CJK_NAMES = frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "IDEOGRAPHIC",
                        "HALFWIDTH", "BOPOMOFO", "KANGXI", "VERTICAL"})
_LATIN_NAMES = frozenset({"LATIN", "FULLWIDTH", "MODIFIER"})
_SCRIPT_ALIASES = {"COPTIC": "greek"}
_NEUTRAL_DIGIT_NAMES = frozenset({"DIGIT", "FULLWIDTH", "MATHEMATICAL", "SUPERSCRIPT",
                                  "SUBSCRIPT", "CIRCLED", "PARENTHESIZED"})
# Single-byte mojibake (e.g. Shift_JIS bytes shown as cp1252) is dense in these; running
# text in Latin-script languages (incl. Spanish ¿¡, French «», °, ©) almost never uses them.
_LATIN1_SOUP = frozenset(
    [chr(c) for c in range(0x80, 0xC0)] + list("ƒˆ†‡‰‹›‚„ŒœŠšŽžŸ˜")
) - frozenset("¡¿«»°©®±·§¥£¢€²³¹¼½¾µºª×÷\u00a0\u00ad")
# Letters real documents do not use: IPA, archaic Greek/Coptic. Mis-mapped CIDs land there.
_RARE_RANGES = ((0x0250, 0x02AF), (0x0370, 0x0377), (0x037B, 0x037D), (0x03D8, 0x03EF))


@lru_cache(maxsize=8192)
def char_script(ch: str) -> str | None:
    """The script group of a letter, mark or non-ASCII digit; None for neutral characters
    (spaces, punctuation, symbols, ASCII/fullwidth digits). Marks of the generic COMBINING
    block return "inherit"."""
    cat = unicodedata.category(ch)
    if cat[0] not in "LMN":
        return None
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return None
    if cat[0] == "N":
        if cat != "Nd" or first in _NEUTRAL_DIGIT_NAMES:
            return None
    if first in _CJK_NAMES:
        return "cjk"
    if first in _LATIN_NAMES:
        return "latin"
    if first == "COMBINING":
        # U+3099/309A (kana voiced marks) are named COMBINING KATAKANA-HIRAGANA ...
        return "cjk" if 0x3099 <= ord(ch) <= 0x309A else "inherit"
    if first.startswith("HANGUL"):
        return "hangul"
    return _SCRIPT_ALIASES.get(first, first.lower())


def _is_bad_codepoint(ch: str) -> bool:
    """Control (except tab/newline), private-use, unassigned, surrogate or U+FFFD."""
    if ch in "\t\n\r":
        return False
    return ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs")


def _is_rare_letter(ch: str) -> bool:
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _RARE_RANGES)


def line_letter_stats(line: str) -> tuple[int, int, Counter[str]]:
    """(letters, implausible hits, letters per script) for one line of text.

    Hits: bad code points, Latin-1 soup symbols, rare letters, marks that do not sit on a
    base letter of their own script, and script changes between adjacent letters.
    """
    letters = hits = 0
    scripts: Counter[str] = Counter()
    prev: str | None = None  # script of the previous character if it was a letter/mark
    for ch in line:
        if _is_bad_codepoint(ch) or ch in _LATIN1_SOUP:
            hits += 1
            prev = None
            continue
        script = char_script(ch)
        if script is None:
            prev = None
            continue
        is_mark = unicodedata.category(ch)[0] == "M"
        if is_mark:
            base_ok = prev is not None and (
                script == prev or (script == "inherit" and prev in ("latin", "greek", "cyrillic")))
            if not base_ok:
                hits += 1
            continue  # a mark is part of its base letter, not a letter of its own
        letters += 1
        scripts[script] += 1
        if _is_rare_letter(ch):
            hits += 1
        elif prev is not None and prev != script and prev != "inherit" \
                and frozenset((prev, script)) not in _OK_PAIRS:
            hits += 1
        prev = script
    return letters, hits, scripts


def _line_is_garbled_alone(letters: int, hits: int) -> bool:
    if hits == 0:
        return False
    denom = max(letters, 1)
    if letters <= SHORT_LINE_LETTERS:
        return hits / denom >= 0.5
    return hits >= GARBLED_LINE_MIN_HITS and hits / denom >= GARBLED_LINE_RATIO


def garbled_line_mask(lines: Sequence[str]) -> list[bool]:
    """True for each line that is mojibake and should not be indexed.

    Two passes: lines that are implausible on their own; then, using the script mix of the
    remaining lines, short lines written mostly in a script that is foreign to the page
    (a lone Bengali letter on a Japanese page is a mis-mapped glyph, not Bengali).
    """
    stats = [line_letter_stats(line) for line in lines]
    mask = [_line_is_garbled_alone(letters, hits) for letters, hits, _ in stats]
    page_scripts: Counter[str] = Counter()
    for (letters, _, scripts), bad in zip(stats, mask):
        if not bad:
            page_scripts.update(scripts)
    total = sum(page_scripts.values())
    allowed = set(_UNIVERSAL) | {s for s, n in page_scripts.items()
                                 if total and n / total >= PAGE_SCRIPT_MIN_SHARE}
    for i, (letters, _, scripts) in enumerate(stats):
        if mask[i] or letters == 0 or letters > SHORT_LINE_LETTERS:
            continue
        foreign = sum(n for s, n in scripts.items() if s not in allowed)
        mask[i] = foreign / letters >= FOREIGN_LINE_RATIO
    return mask


def count_letters(text: str) -> int:
    """Letters (any script) in text; digits and punctuation do not count."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] == "L")


def assess_page_text(text: str, *, has_images: bool = False) -> tuple[bool, str, str]:
    """Decide whether a page's extracted text is worth indexing.

    Returns (ok, reason, detail). Not ok: reason is "image-only" (images, (almost) no text),
    "empty" (no text, no image) or "garbled" (mostly mojibake). Ok but with garbled lines
    (which the caller drops via ``garbled_line_mask``): reason "garbled", detail says how
    much. Clean: (True, "", "").
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    letters_total = count_letters(text)
    if has_images and letters_total < IMAGE_ONLY_MAX_LETTERS:
        return False, "image-only", (
            f"page has images but only {letters_total} letters of text (a scan or figure "
            "without a text layer; OCR it to index it)")
    if letters_total == 0:
        return False, "empty", "no text and no images on the page"
    mask = garbled_line_mask(lines)
    if not any(mask):
        return True, "", ""
    bad_letters = sum(max(count_letters(ln), 1) for ln, bad in zip(lines, mask) if bad)
    bad_share = bad_letters / max(letters_total, 1)
    clean_letters = letters_total - sum(count_letters(ln) for ln, bad in zip(lines, mask) if bad)
    n_bad = sum(mask)
    if bad_share >= GARBLED_PAGE_RATIO or clean_letters < MIN_CLEAN_LETTERS:
        return False, "garbled", (
            f"{n_bad} of {len(lines)} lines ({bad_share:.0%} of the text) are unreadable "
            "(a font without a ToUnicode map?)")
    return True, "garbled", (
        f"partly garbled: {n_bad} of {len(lines)} lines dropped as unreadable (a font without "
        "a ToUnicode map?); the rest of the page is indexed")

