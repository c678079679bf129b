"""Which edition language a text is in, by script (a fuller detector comes with the language issue)."""
from __future__ import annotations

import unicodedata


def guess_language(text: str) -> str:
    """``"ja"`` when kana or kanji dominate the letters, else ``"en"``; cheap and offline."""
    cjk = kana = letters = 0
    for ch in text[:5000]:
        if not ch.isalpha():
            continue
        letters += 1
        name = unicodedata.name(ch, "")
        if "HIRAGANA" in name or "KATAKANA" in name:
            kana += 1
        elif "CJK UNIFIED" in name:
            cjk += 1
    if letters == 0:
        return "und"
    return "ja" if (kana + cjk) / letters > 0.3 else "en"
