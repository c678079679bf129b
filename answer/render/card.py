"""Adaptive Cards (schema 1.5) for Microsoft Teams: an answer, and one edition's text of a section.

An answer card shows a heading per cited section with the sentences quoted from it and their
``[n]`` markers, the numbered sources (section, printed and PDF page, a link to the document), and,
when the caller asks for them, actions: "show in <language>" buttons (``Action.Submit``, answered by
a message with that edition's section) and helpful / not helpful (``Action.Execute``, answered in
place). Action data carries section ids and editions only, never the question.
"""
from __future__ import annotations

from typing import Any, Sequence

from answer.render.text import block_heading, heading, language_name, markers
from kb.model import Answer, Chunk, Citation, Hit

CARD_VERSION = "1.5"  # Teams desktop, web and mobile render 1.5
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
SHOW_VERB = "show_edition"
FEEDBACK_VERB = "feedback"
NEW_TOPIC_VERB = "new_topic"
MAX_LANGUAGE_ACTIONS = 6  # Teams shows at most six actions in a row before an overflow menu
SECTION_CHARS = 6000  # a Teams message carries at most ~28 KB; a long section links to the document
UNSURE = "The guidebook may not cover this exactly: check the cited sections before relying on them."


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": CARD_VERSION, "body": body}
    if actions:
        card["actions"] = actions
    return card


def source_text(n: int, citation: Citation) -> str:
    """``**[1]** 1.1.3 第1章 … > (3) 紛失 · p. 2 (PDF p. 16) · [Title (ja, release)](url)``."""
    document = f"{citation.title} ({', '.join(x for x in (citation.language, citation.release) if x)})"
    parts = [f"**[{n}]**", citation.section() or document]
    if citation.location():
        parts.append(f"· {citation.location()}")
    parts.append(f"· [{document}]({citation.url})" if citation.url else f"· {document}")
    return " ".join(parts)


def _answer_items(answer: Answer) -> list[dict[str, Any]]:
    if answer.abstained:
        return [_text(answer.note or heading(answer), color="Warning")]
    items: list[dict[str, Any]] = []
    if answer.verdict == "unsure":
        items.append(_text(UNSURE, color="Warning", isSubtle=True))
    if answer.blocks:
        for block in answer.blocks:
            items.append({"type": "Container", "spacing": "Medium", "items": [
                _text(block_heading(block), weight="Bolder"),
                *(_text(f"{s.text} **{markers(s.citations)}**", spacing="Small") for s in block.sentences)]})
    else:
        items += [_text(f"{s.text} **{markers(s.citations)}**", spacing="Small") for s in answer.sentences]
    if answer.note:
        items.append(_text(answer.note, isSubtle=True, color="Warning"))
    return items


def _sources(hits: Sequence[Hit], title: str) -> list[dict[str, Any]]:
    if not hits:
        return []
    return [_text(title, weight="Bolder", separator=True, spacing="Medium"),
            *(_text(source_text(n, h.citation), size="Small", spacing="Small") for n, h in enumerate(hits, 1))]


def show_action(section_id: str, language: str) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": language_name(language),
            "data": {"verb": SHOW_VERB, "section_id": section_id, "language": language}}


def feedback_actions(answer: Answer) -> list[dict[str, Any]]:
    """Helpful / not helpful; the data names what was cited so feedback can be counted per section."""
    cited = sorted({f"{h.chunk.language}:{h.chunk.section_id}" for h in answer.sources if h.chunk.section_id})
    data = {"verdict": answer.verdict, "edition": answer.edition, "sections": cited}
    return [{"type": "Action.Execute", "title": title, "verb": FEEDBACK_VERB, "data": {**data, "helpful": helpful}}
            for title, helpful in (("👍 Helpful", True), ("👎 Not helpful", False))]


def to_adaptive_card(answer: Answer, *, languages: Sequence[str] = (), feedback: bool = False,
                     new_topic: bool = False) -> dict[str, Any]:
    """The answer card. ``languages``: editions to offer the top cited section in ("show in …");
    ``feedback``: helpful / not helpful; ``new_topic``: a button that ends the follow-up context."""
    body = [_text(answer.query, weight="Bolder", size="Medium"), *_answer_items(answer),
            *_sources(answer.sources, "Nearest sections" if answer.abstained else "Sources")]
    top = next((b.section_id for b in answer.blocks if b.section_id), None)
    shown = [show_action(top, lang) for lang in languages[:MAX_LANGUAGE_ACTIONS]] if top and not answer.abstained else []
    if shown:
        body.append(_text("Show this section in", isSubtle=True, size="Small", spacing="Medium"))
        body.append({"type": "ActionSet", "actions": shown})
    actions = feedback_actions(answer) if feedback else []
    if new_topic:
        actions.append({"type": "Action.Submit", "title": "New question", "data": {"verb": NEW_TOPIC_VERB}})
    return _card(body, actions)


def to_teams_card(answer: Answer) -> dict[str, Any]:
    """The answer card without actions (``kb ask --render teams``, the outgoing webhook)."""
    return to_adaptive_card(answer)


def section_card(chunks: Sequence[Chunk], section_id: str, language: str) -> dict[str, Any]:
    """One edition's text of a section, headed by its language and citation, to show a resident."""
    if not chunks:
        return _card([_text(f"Section {section_id} is not in the {language_name(language)} edition.",
                            color="Warning")])
    citation = Citation.of(chunks[0])
    text = "\n\n".join(c.text for c in chunks)
    if len(text) > SECTION_CHARS:
        text = text[:SECTION_CHARS - 1] + "…"
    return _card([_text(f"{language_name(language)} · {section_id} {' > '.join(citation.section_path[-1:])}",
                        weight="Bolder", size="Medium"),
                  _text(text),
                  _text(source_text(1, citation), size="Small", isSubtle=True, separator=True)])
