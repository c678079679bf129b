"""Slack assistant threads (the AI-app side panel, bolt's ``Assistant``): suggested prompts when a
thread opens, a status line while the answer is found, the cited answer as Block Kit with the
"Show in …" buttons, and follow-ups in the same thread (the thread is the conversation)."""
from __future__ import annotations

from typing import Any

from serve.slack import SlackBot, asker, clean

GREETING = ("Ask me about living and working in Japan. I answer with sentences quoted from the "
            "Living and Working Guidebook, each citing its section and page.")
PROMPTS_TITLE = "For example"
SUGGESTED_PROMPTS = [  # Slack shows at most four
    {"title": "在留カードをなくした", "message": "在留カードをなくした"},
    {"title": "引っ越したときの届出", "message": "引っ越したら何をしなければなりませんか"},
    {"title": "国民健康保険に入るには", "message": "国民健康保険に入るには"},
    {"title": "I lost my residence card", "message": "I lost my residence card. What should I do?"},
]
STATUS = "is searching the guidebook…"  # shown as "<app name> is searching the guidebook…"


def build_assistant(bot: SlackBot) -> Any:
    """The ``Assistant`` middleware wired to ``bot`` (register with ``App.assistant``)."""
    from slack_bolt import Assistant

    assistant = Assistant()

    @assistant.thread_started
    def started(say: Any, set_suggested_prompts: Any) -> None:
        say(GREETING)
        set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title=PROMPTS_TITLE)

    @assistant.user_message
    def asked(payload: dict[str, Any], context: Any, set_status: Any, say: Any) -> None:
        question = clean(payload.get("text", ""))
        if not question:
            return
        set_status(STATUS)  # Slack clears it when the reply is posted in the thread
        who = asker(context, payload, payload["channel"], payload["thread_ts"])
        message, _ = bot.respond(who, question)
        say(unfurl_links=False, **message)

    return assistant
