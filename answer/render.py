"""Answers rendered for people and chat tools: plain text, Slack mrkdwn blocks, a Teams Adaptive Card.

Each renderer shows the quoted sentences with their citation markers, the note (fallbacks, "not
found"), and the numbered sources with edition, section and page, so a reader can check every claim.
"""
from __future__ import annotations

from typing import Any

from kb.model import Answer, Hit

SLACK_TEXT_LIMIT = 3000  # characters in one section block's text (Block Kit limit)
SLACK_MAX_BLOCKS = 50
CARD_VERSION = "1.4"  # supported by Teams desktop, web and mobile


def _markers(citations: tuple[int, ...]) -> str:
    return "".join(f"[{n}]" for n in citations)


def _source_line(n: int, hit: Hit) -> str:
    return f"[{n}] {hit.citation.label()}"


def heading(answer: Answer) -> str:
    return "No answer found in the guidebook" if answer.abstained else "Answer"


def to_text(answer: Answer) -> str:
    lines = [f"Q: {answer.query}", ""]
    if answer.abstained:
        lines.append(answer.note)
    else:
        lines += [f"{s.text} {_markers(s.citations)}" for s in answer.sentences]
        if answer.note:
            lines += ["", f"Note: {answer.note}"]
    lines += ["", "Nearest sections:" if answer.abstained else "Sources:"]
    lines += [_source_line(n, h) for n, h in enumerate(answer.sources, 1)]
    return "\n".join(lines)


def _slack_escape(text: str) -> str:
    # Slack mrkdwn: only &, < and > must be escaped; everything else is literal text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_slack(answer: Answer) -> dict[str, Any]:
    """A chat.postMessage payload: ``text`` (notification fallback) and Block Kit ``blocks``."""
    if answer.abstained:
        body = f"*{heading(answer)}*\n{_slack_escape(answer.note)}"
    else:
        body = "\n".join(f"{_slack_escape(s.text)} *{_markers(s.citations)}*" for s in answer.sentences)
        if answer.note:
            body += f"\n_{_slack_escape(answer.note)}_"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(body, SLACK_TEXT_LIMIT)}}]
    sources = "\n".join(_slack_escape(_source_line(n, h)) for n, h in enumerate(answer.sources, 1))
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
        body += [{"type": "TextBlock", "text": f"{s.text} **{_markers(s.citations)}**", "wrap": True,
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


RENDERERS = {"text": to_text, "slack": to_slack, "teams": to_teams_card}
