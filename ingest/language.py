"""Which edition language a text is in, by script (a fuller detector comes with the language issue)."""
from __future__ import annotations

import unicodedata

from ingest.quality import char_script

SAMPLE_CHARS = 20000  # enough text to judge by; a long document is not read to the end
# Japanese running text is ~90% Han/kana even with Latin terms mixed in; 30% keeps a
# Japanese page with many acronyms/URLs on the right side.
CJK_MIN_SHARE = 0.3


def guess_language(text: str) -> str:
    """``"ja"`` when Han/kana make up at least CJK_MIN_SHARE of the letters, ``"en"`` for other
    letters, ``"und"`` when there are none; cheap and offline."""
    letters = cjk = 0
    for ch in text[:SAMPLE_CHARS]:
        if unicodedata.category(ch)[0] != "L":
            continue
        letters += 1
        if char_script(ch) == "cjk":
            cjk += 1
    if letters == 0:
        return "und"
    return "ja" if cjk / letters >= CJK_MIN_SHARE else "en"
