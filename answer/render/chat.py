"""Answers rendered for Slack (Block Kit, mrkdwn); the Teams Adaptive Card is in ``answer.render.card``.

A message shows a heading per cited section with the quoted sentences and their citation markers,
the note (fallbacks, "not found"), and the numbered sources with edition, section and page, so a
reader can check every claim; "Show in <language>" buttons offer the top section in other editions.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from answer.render.text import block_heading, heading, language_name, markers, source_line
from kb.model import Answer, Chunk, Citation

SLACK_TEXT_LIMIT = 3000  # characters in one section block's text (Block Kit limit)
SLACK_MAX_BLOCKS = 50
SHOW_ACTION = "show_edition"
MAX_BUTTONS = 5


def slack_escape(text: str) -> str:
    # Slack mrkdwn: only &, < and > must be escaped; everything else is literal text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SLACK_TEXT_LIMIT)}}


def _quoted(sentences: Sequence[Any]) -> str:
    return "\n".join(f"{slack_escape(s.text)} *{markers(s.citations)}*" for s in sentences)


def to_slack(answer: Answer) -> dict[str, Any]:
    """A chat.postMessage payload: ``text`` (notification fallback) and Block Kit ``blocks``."""
    if answer.abstained:
        blocks = [_section(f"*{heading(answer)}*\n{slack_escape(answer.note)}")]
    elif answer.blocks:
        blocks = [_section(f"*{slack_escape(block_heading(b))}*\n{_quoted(b.sentences)}") for b in answer.blocks]
    else:
        blocks = [_section(_quoted(answer.sentences))]
    if answer.note and not answer.abstained:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(
            f"_{slack_escape(answer.note)}_", SLACK_TEXT_LIMIT)}]})
    sources = "\n".join(slack_escape(source_line(n, h)) for n, h in enumerate(answer.sources, 1))
    if sources:
        blocks.append({"type": "divider"})
        title = "Nearest sections" if answer.abstained else "Sources"
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _clip(f"*{title}*\n{sources}", SLACK_TEXT_LIMIT)}]})
    fallback = answer.note if answer.abstained else " ".join(s.text for s in answer.sentences)
    return {"text": _clip(fallback or heading(answer), SLACK_TEXT_LIMIT), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def slack_edition_buttons(answer: Answer, languages: Sequence[str]) -> dict[str, Any] | None:
    """An actions block: "Show in <language>" for the top cited section in ``languages``."""
    hit = next((h for h in answer.sources if h.chunk.section_id), None)
    if hit is None or answer.abstained:
        return None
    buttons = []
    for lang in languages[:MAX_BUTTONS]:
        value = json.dumps({"section_id": hit.chunk.section_id, "language": lang,
                            "chunk_id": hit.chunk.chunk_id}, ensure_ascii=False)
        buttons.append({"type": "button", "action_id": f"{SHOW_ACTION}:{lang}", "value": value,
                        "text": {"type": "plain_text", "text": f"Show in {language_name(lang)}"[:75]}})
    return {"type": "actions", "block_id": "editions", "elements": buttons} if buttons else None


def slack_section(chunks: Sequence[Chunk], section_id: str, language: str) -> dict[str, Any]:
    """A message with one edition's text of a section, headed by its citation."""
    if not chunks:
        text = f"Section {section_id} is not in the {language_name(language)} edition."
        return {"text": text, "blocks": [_section(text)]}
    label = Citation.of(chunks[0]).label()
    body = slack_escape("\n".join(c.text for c in chunks))
    parts = [body[i:i + SLACK_TEXT_LIMIT] for i in range(0, len(body), SLACK_TEXT_LIMIT)][:10]
    blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(label)[:SLACK_TEXT_LIMIT]}]}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in parts]
    return {"text": label[:SLACK_TEXT_LIMIT], "blocks": blocks}
