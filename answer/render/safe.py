"""Indexed text is untrusted: what a terminal would obey in it is taken out before it is shown.

A source file can carry ANSI escape sequences (which move the cursor, rewrite earlier lines, set
the window title) or bidirectional overrides such as U+202E (which make ``exe.txt`` read
``txt.exe``). Removed: C0 and C1 control characters except newline and tab, and the bidi
embedding, override and isolate controls. Kept: everything printable, in any script.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` without terminal control characters and bidi overrides."""
    return _UNSAFE.sub("", text)
