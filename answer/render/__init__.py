"""Renderers of an Answer, by name: ``text``, ``slack`` (Block Kit JSON), ``teams`` (Adaptive Card 1.5
JSON), ``cited`` (the data the MCP tools return to agents). The terminal's rich views are in
``answer.render.terminal``."""
from answer.render.card import to_adaptive_card, to_teams_card
from answer.render.chat import SLACK_TEXT_LIMIT, to_slack
from answer.render.cited import to_cited
from answer.render.text import to_text

RENDERERS = {"text": to_text, "slack": to_slack, "teams": to_teams_card, "cited": to_cited}

__all__ = ["RENDERERS", "SLACK_TEXT_LIMIT", "to_adaptive_card", "to_cited", "to_slack", "to_teams_card", "to_text"]
