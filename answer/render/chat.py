"""Answers rendered for chat tools: Slack mrkdwn blocks and a Teams Adaptive Card.

Each shows the quoted sentences with their citation markers, the note (fallbacks, "not found"),
and the numbered sources with edition, section and page, so a reader can check every claim.
"""
from __future__ import annotations

from typing import Any

from answer.render.text import heading, markers, source_line
from kb.model import Answer

SLACK_TEXT_LIMIT = 3000  # characters in one section block's text (Block Kit limit)
SLACK_MAX_BLOCKS = 50
CARD_VERSION = "1.4"  # supported by Teams desktop, web and mobile


def slack_escape(text: str) -> str:
    # Slack mrkdwn: only &, < and > must be escaped; everything else is literal text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_slack(answer: Answer) -> dict[str, Any]:
    """A chat.postMessage payload: ``text`` (notification fallback) and Block Kit ``blocks``."""
    if answer.abstained:
        body = f"*{heading(answer)}*\n{slack_escape(answer.note)}"
    else:
        body = "\n".join(f"{slack_escape(s.text)} *{markers(s.citations)}*" for s in answer.sentences)
        if answer.note:
            body += f"\n_{slack_escape(answer.note)}_"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(body, SLACK_TEXT_LIMIT)}}]
    sources = "\n".join(slack_escape(source_line(n, h)) for n, h in enumerate(answer.sources, 1))
    if sources:
        blocks.append({"type": "divider"})
        title = "Nearest sections" if answer.abstained else "Sources"
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _clip(f"*{title}*\n{sources}", SLACK_TEXT_LIMIT)}]})
    fallback = answer.note if answer.abstained else " ".join(s.text for s in answer.sentences)
    return {"text": _clip(fallback or heading(answer), SLACK_TEXT_LIMIT), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def to_teams_card(answer: Answer) -> dict[str, Any]:
    """An Adaptive Card (schema 1.4) for a Teams reply."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": answer.query, "weight": "Bolder", "wrap": True},
    ]
    if answer.abstained:
        body.append({"type": "TextBlock", "text": answer.note, "wrap": True, "color": "Warning"})
    else:
        body += [{"type": "TextBlock", "text": f"{s.text} **{markers(s.citations)}**", "wrap": True,
                  "spacing": "Small"} for s in answer.sentences]
        if answer.note:
            body.append({"type": "TextBlock", "text": answer.note, "wrap": True, "isSubtle": True,
                         "color": "Warning"})
    if answer.sources:
        body.append({"type": "TextBlock", "text": "Nearest sections" if answer.abstained else "Sources",
                     "weight": "Bolder", "separator": True, "spacing": "Medium"})
        body.append({"type": "FactSet", "facts": [
            {"title": f"[{n}]", "value": h.citation.label()} for n, h in enumerate(answer.sources, 1)]})
    return {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION, "body": body}

