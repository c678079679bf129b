"""The heading path above the current line, and the section id cited for it."""
from __future__ import annotations

from ingest.limits import guard
from ingest.pdf.headings import Heading
from ingest.pdf.text import is_wide


class SectionStack:
    """The headings above the current line, outermost first."""

    def __init__(self) -> None:
        self.stack: list[Heading] = []

    def push(self, h: Heading) -> None:
        s = self.stack
        if h.rank is not None:
            # Keep only the outer fixed-rank units (a chapter closes sections, numbered and
            # unnumbered headings, articles below it).
            keep = 0
            for i, e in enumerate(s):
                if e.rank is not None and e.rank < h.rank:
                    keep = i + 1
            del s[keep:]
        else:
            # A heading closes the open heading of its own style (a sibling) and any open
            # heading printed smaller than itself (it is more prominent, so not nested in it);
            # an unnumbered heading also closes unnumbered ones of equal size.
            for i, e in enumerate(s):
                if e.rank is not None:
                    continue
                sibling = e.style == h.style and (h.style != "size" or e.size <= h.size + 0.25)
                smaller = not h.article and e.size < h.size - 0.5
                if sibling or smaller:
                    del s[i:]
                    break
        s.append(h)

    def extend_last(self, text: str) -> None:
        """A heading wrapped onto a second line."""
        last = self.stack[-1]
        sep = "" if is_wide(last.label[-1]) or is_wide(text[0]) else " "
        self.stack[-1] = Heading(guard().heading(last.label + sep + text), last.style, last.rank, last.num,
                                 last.size)

    def is_quotation(self, h: Heading) -> bool:
        """Articles advance through a law; one that jumps back more than one article from
        the open one is a quoted provision in commentary (a rule book alternative may
        restate the previous article, hence the tolerance of one)."""
        current = next((e for e in reversed(self.stack) if e.article), None)
        return (h.article and current is not None and h.value is not None
                and current.value is not None and h.value < current.value - 1)

    def path(self) -> tuple[str, ...]:
        return tuple(h.label for h in self.stack)

    def section_id(self) -> str | None:
        """The open article's text ("第十九条の九"), else the dotted numbers of the numbered
        headings ("3.2", law branches as "3-2"). Unlike ingest.headings.section_id this keeps
        the numbers recognised when the heading was read (kana, circled, branch numbers)."""
        numbered = [h for h in self.stack if h.num]
        if not numbered:
            return None
        if numbered[-1].article:
            return numbered[-1].num
        return ".".join(h.num or "" for h in numbered if not h.article)
