"""Renderers of an Answer, by name: ``text``, ``slack`` (Block Kit JSON), ``teams`` (Adaptive Card JSON).
The terminal's rich views are in ``answer.render.terminal``."""
from answer.render.chat import SLACK_TEXT_LIMIT, to_slack, to_teams_card
from answer.render.text import to_text

RENDERERS = {"text": to_text, "slack": to_slack, "teams": to_teams_card}

__all__ = ["RENDERERS", "SLACK_TEXT_LIMIT", "to_slack", "to_teams_card", "to_text"]
