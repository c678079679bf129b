"""Plain text for people and chat fallbacks: the quoted sentences with their citation markers, the
note (fallbacks, "not found"), and the numbered sources with edition, section and page."""
from __future__ import annotations

from answer.render.safe import printable
from kb.model import Answer, AnswerBlock, Hit

# Each edition's own name for its language, as a resident would recognise it on a button.
LANGUAGE_NAMES = {
    "ja": "日本語", "ja-easy": "やさしい日本語", "en": "English", "vi": "Tiếng Việt", "zh-Hans": "简体中文",
    "zh-Hant": "繁體中文", "ko": "한국어", "pt": "Português", "es": "Español", "tl": "Tagalog",
    "ne": "नेपाली", "th": "ไทย", "id": "Bahasa Indonesia", "my": "မြန်မာဘာသာ", "km": "ខ្មែរ",
    "mn": "Монгол", "uk": "Українська", "si": "සිංහල", "bn": "বাংলা", "fr": "Français",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def markers(citations: tuple[int, ...]) -> str:
    return "".join(f"[{n}]" for n in citations)


def source_line(n: int, hit: Hit) -> str:
    return f"[{n}] {hit.citation.label()}"


def heading(answer: Answer) -> str:
    return "No answer found in the guidebook" if answer.abstained else "Answer"


def block_heading(block: AnswerBlock) -> str:
    """``1.1.3 (3) 紛失`` (and the part of the question it answers, when there are several)."""
    title = " ".join(x for x in (block.section_id, block.title) if x)
    return f"{title} — {block.aspect}" if block.aspect else title


def to_text(answer: Answer) -> str:
    lines = [f"Q: {answer.query}", ""]
    if answer.abstained:
        lines.append(answer.note)
    else:
        lines += [f"{s.text} {markers(s.citations)}" for s in answer.sentences]
        if answer.note:
            lines += ["", f"Note: {answer.note}"]
    lines += ["", "Nearest sections:" if answer.abstained else "Sources:"]
    lines += [source_line(n, h) for n, h in enumerate(answer.sources, 1)]
    return printable("\n".join(lines))
