"""Plain text for people and chat fallbacks: the quoted sentences with their citation markers, the
note (fallbacks, "not found"), and the numbered sources with edition, section and page."""
from __future__ import annotations

from answer.render.safe import printable
from kb.model import Answer, Hit


def markers(citations: tuple[int, ...]) -> str:
    return "".join(f"[{n}]" for n in citations)


def source_line(n: int, hit: Hit) -> str:
    return f"[{n}] {hit.citation.label()}"


def heading(answer: Answer) -> str:
    return "No answer found in the guidebook" if answer.abstained else "Answer"


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
