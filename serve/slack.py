"""Slack bot: @mention or ``/madoguchi`` -> cited answer in the thread, with edition buttons.

HTTP mode: ``POST /slack/events`` (mounted by ``create_app`` when SLACK_SIGNING_SECRET and
SLACK_BOT_TOKEN are set); every request's signature is verified and requests older than five
minutes are refused (replays). Socket mode: ``run_socket_mode()`` / ``python -m serve.slack``
with SLACK_APP_TOKEN, for networks that cannot receive Slack's HTTPS calls.

Follow-ups: a reply in a thread the bot answered is asked together with the thread's earlier
question(s) (``serve.conversation``). Assistant threads (Slack's AI-app side panel) are handled by
``serve.slack_assistant``.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Optional

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from answer.render.chat import SHOW_ACTION, slack_edition_buttons, slack_escape, slack_section, to_slack
from kb import KnowledgeBase
from kb.errors import KBError
from kb.model import Answer
from serve.access import Asker, Refused
from serve.config import ServiceConfig
from serve.conversation import BotCore
from serve.runner import CallTimeout, KBRunner

log = logging.getLogger("madoguchi.slack")
MAX_AGE = 5 * 60  # seconds: Slack's own replay window
TEXT_LIMIT = 3000  # characters in one Block Kit section
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def clean(text: str) -> str:
    """Message text without user mentions (``<@U123>``) and surplus whitespace."""
    return " ".join(_MENTION.sub(" ", text or "").split())


def asker(context: Any, event_or_body: dict[str, Any], channel: str, thread_ts: Optional[str]) -> Asker:
    """Who asks: workspace and user from bolt's context (the event's fields as a fallback)."""
    team = getattr(context, "team_id", None) or event_or_body.get("team") or event_or_body.get("team_id") or ""
    user = getattr(context, "user_id", None) or event_or_body.get("user") or event_or_body.get("user_id") or ""
    return Asker("slack", team, user, f"{channel}:{thread_ts}" if thread_ts else "")


class SlackBot:
    """The listeners, kept apart from bolt wiring so HTTP and socket mode share them."""

    def __init__(self, core: BotCore) -> None:
        self.core = core

    def remembers(self, who: Asker) -> bool:
        """Whether ``who``'s thread is one the bot answered (so a reply there is a follow-up)."""
        return self.core.memory.get(who.key) is not None

    def answer_payload(self, answer: Any) -> dict[str, Any]:
        """``to_slack`` plus the "Show in …" buttons for the editions that have the top section."""
        payload = to_slack(answer)
        buttons = slack_edition_buttons(answer, self.core.languages_for(answer))
        return {"text": payload["text"], "blocks": (payload["blocks"] + ([buttons] if buttons else []))[:50]}

    def respond(self, who: Asker, question: str) -> tuple[dict[str, Any], Optional[Answer]]:
        """The message to post for ``question``: the answer, or one line saying why there is none."""
        try:
            answer = self.core.ask(who, question)
        except (KBError, CallTimeout, Refused) as exc:
            return {"text": str(exc) if isinstance(exc, Refused) else f"Sorry: {exc}"}, None
        return self.answer_payload(answer), answer

    def reply(self, client: Any, who: Asker, channel: str, thread_ts: Optional[str], question: str,
              header: Optional[str] = None) -> Optional[str]:
        """Answer ``question`` (with the thread's context) and post it; returns the message ts."""
        payload, answer = self.respond(who, question)
        if header and answer is not None:
            payload["blocks"] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": header}]},
                                 *payload["blocks"]][:50]
        posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, unfurl_links=False, **payload)
        if not thread_ts and answer is not None:  # a new message (slash command): its thread takes follow-ups
            self.core.memory.put(Asker("slack", who.tenant, who.user, f"{channel}:{posted['ts']}").key, answer.query)
        return posted.get("ts")

    # -- listeners (bolt passes arguments by name) -----------------------------------------
    def on_mention(self, event: dict[str, Any], client: Any, context: Any) -> None:
        question = clean(event.get("text", ""))
        thread_ts = event.get("thread_ts") or event["ts"]
        if not question:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts,
                                    text="Ask me a question after the mention, e.g. 在留カードをなくした")
            return
        self.reply(client, asker(context, event, event["channel"], thread_ts), event["channel"], thread_ts, question)

    def on_message(self, event: dict[str, Any], client: Any, context: Any) -> None:
        """A reply in a thread the bot answered: a follow-up question."""
        thread_ts = event.get("thread_ts")
        if not thread_ts or event.get("subtype") or event.get("bot_id"):
            return  # not a thread reply, an edit/join/bot message
        bot_user = getattr(context, "bot_user_id", None) or context.get("bot_user_id")
        if bot_user and f"<@{bot_user}" in event.get("text", ""):
            return  # a mention: the app_mention listener answers it
        who = asker(context, event, event["channel"], thread_ts)
        if not self.remembers(who):
            return  # someone else's thread
        question = clean(event.get("text", ""))
        if question:
            self.reply(client, who, event["channel"], thread_ts, question)

    def on_command(self, ack: Any, command: dict[str, Any], client: Any, respond: Any, context: Any) -> None:
        question = " ".join((command.get("text") or "").split())
        if not question:
            ack("Usage: /madoguchi <question>, e.g. /madoguchi 在留カードをなくした")
            return
        ack()  # within Slack's 3 s; the answer follows as a message whose thread takes follow-ups
        header = f"<@{command.get('user_id', '')}> asked: {slack_escape(question)}"[:TEXT_LIMIT]
        who = asker(context, command, command["channel_id"], None)
        try:
            self.reply(client, who, command["channel_id"], None, question, header=header)
        except Exception as exc:  # e.g. not_in_channel: answer privately instead
            log.warning("slash command reply failed (%s); answering ephemerally", type(exc).__name__)
            respond(**self.respond(who, question)[0], response_type="ephemeral")

    def on_show_edition(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        try:
            value = json.loads(action.get("value") or "{}")
            section_id, language = str(value["section_id"]), str(value["language"])
        except (ValueError, KeyError, TypeError):
            return
        chunks = self.core.runner.call_sync(self.core.kb.section, section_id, language)
        message = body.get("message") or {}
        container = body.get("container") or {}
        thread_ts = message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, unfurl_links=False,
                                **slack_section(chunks, section_id, language))


def build_bolt_app(core: BotCore, config: ServiceConfig, *, client: Any = None, http: bool = True) -> Any:
    """A bolt App wired to ``SlackBot``. Token verification (auth.test) is deferred to the first
    request, so the service starts even while Slack is unreachable; ``client`` replaces the WebClient."""
    from slack_bolt import App
    from slack_sdk import WebClient

    from serve.slack_assistant import build_assistant

    client = client or WebClient(token=config.slack_bot_token)
    app = App(client=client, signing_secret=config.slack_signing_secret if http else None,
              token_verification_enabled=False, request_verification_enabled=http,
              ignoring_self_events_enabled=True, logger=logging.getLogger("slack_bolt.madoguchi"))
    bot = SlackBot(core)
    app.assistant(build_assistant(bot))  # before the message listener: it takes assistant-thread messages
    app.event("app_mention")(bot.on_mention)
    app.event("message")(bot.on_message)
    app.command("/madoguchi")(bot.on_command)
    app.action(re.compile(f"^{SHOW_ACTION}"))(bot.on_show_edition)
    app.madoguchi_bot = bot  # type: ignore[attr-defined]  # for tests and diagnostics
    return app


def fresh(timestamp: Optional[str], now: Optional[float] = None) -> bool:
    """Slack's timestamp header is within MAX_AGE of now (bolt checks too; refusing first is cheaper)."""
    try:
        return abs((now or time.time()) - int(timestamp or "")) <= MAX_AGE
    except ValueError:
        return False


class Delivered:
    """Event ids acknowledged lately (bounded, oldest dropped first): what a retry may skip."""

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, event_id: str) -> bool:
        with self._lock:
            return event_id in self._ids

    def add(self, event_id: str) -> None:
        with self._lock:
            self._ids[event_id] = None
            while len(self._ids) > self.size:
                self._ids.popitem(last=False)


def event_id(body: bytes) -> Optional[str]:
    """The Events API ``event_id`` of a request body, if it is one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = data.get("event_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def slack_router(core: BotCore, config: ServiceConfig, *, client: Any = None) -> APIRouter:
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from slack_sdk.signature import SignatureVerifier

    bolt = build_bolt_app(core, config, client=client)
    verifier = SignatureVerifier(config.slack_signing_secret or "")
    delivered = Delivered()
    router = APIRouter()

    @router.post("/slack/events", tags=["chat"], response_model=None)
    async def slack_events(request: Request) -> Response:
        """Slack Events API, slash commands and interactivity (all signed by Slack)."""
        body = await request.body()
        timestamp = request.headers.get("x-slack-request-timestamp")
        if not fresh(timestamp):
            return JSONResponse({"error": "stale or missing request timestamp"}, status_code=401)
        # Verified here, before bolt parses anything, for every request (retries included).
        if not verifier.is_valid(body, timestamp or "", request.headers.get("x-slack-signature") or ""):
            return JSONResponse({"error": "invalid Slack signature"}, status_code=401)
        event = event_id(body)
        if request.headers.get("x-slack-retry-num") and event and event in delivered:
            # Slack re-sends an event it thinks was not acknowledged in time; this one was, and is
            # being answered: a retry must not post a second answer. A retry of an event never
            # acknowledged here (the first delivery failed) is answered like a first delivery.
            return Response(status_code=200, headers={"X-Slack-No-Retry": "1"})
        # dispatch acks and hands listeners to bolt's own threads; it can wait for an ack, so it
        # runs off the event loop.
        try:
            response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        except RecursionError:  # signed, but nested deeper than any Slack payload
            return JSONResponse({"error": "body is JSON nested too deeply"}, status_code=400)
        if event and response.status == 200:
            delivered.add(event)
        return to_starlette_response(response)

    router.bolt = bolt  # type: ignore[attr-defined]
    return router


def socket_mode_handler(core: BotCore, config: ServiceConfig) -> Any:
    """The socket-mode handler (not yet connected): Slack is reached over an outbound WebSocket."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not (config.slack_app_token and config.slack_bot_token):
        raise KBError("socket mode needs SLACK_APP_TOKEN (xapp-...) and SLACK_BOT_TOKEN (xoxb-...)")
    return SocketModeHandler(build_bolt_app(core, config, http=False), config.slack_app_token)


def run_socket_mode(index: Optional[str] = None) -> None:
    """Open the knowledge base and serve Slack over socket mode until interrupted."""
    from serve.logs import configure_logging

    configure_logging()
    config = ServiceConfig.from_env()
    kb = KnowledgeBase.open(index)
    runner = KBRunner(kb, workers=config.workers, timeout=config.timeout)
    try:
        socket_mode_handler(BotCore(runner, config), config).start()  # blocks
    finally:
        runner.close()
        kb.close()


if __name__ == "__main__":
    run_socket_mode()
