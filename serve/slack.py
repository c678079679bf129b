"""Slack bot: @mention or ``/madoguchi`` -> cited answer in the thread, with edition buttons.

HTTP mode: ``POST /slack/events`` (mounted by ``create_app`` when SLACK_SIGNING_SECRET and
SLACK_BOT_TOKEN are set); every request's signature is verified and requests older than five
minutes are refused (replays). Socket mode: ``run_socket_mode()`` / ``python -m serve.slack``
with SLACK_APP_TOKEN, for networks that cannot receive Slack's HTTPS calls.

Follow-ups: a reply in a thread the bot answered is asked together with the thread's earlier
question(s), plainly concatenated ("<previous>\\n<new>"), not labelled ("前の質問: …"): both
retrieval legs score content words, and labels would add the same noise words to every query and
skew the query-language guess. The context is clipped from the front, so a long conversation
keeps only its most recent part (``CONTEXT_CHARS``).
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

from answer.render.chat import slack_escape, to_slack
from kb.errors import KBError
from kb import KnowledgeBase
from kb.model import Answer, Citation
from serve.config import ServiceConfig
from serve.runner import CallTimeout, KBRunner

log = logging.getLogger("madoguchi.slack")
MAX_AGE = 5 * 60  # seconds: Slack's own replay window
CONTEXT_CHARS = 400  # earlier question text kept in front of a follow-up
MAX_BUTTONS = 5
TEXT_LIMIT = 3000  # characters in one Block Kit section
SHOW_ACTION = "show_edition"
LANGUAGE_NAMES = {
    "ja": "日本語", "ja-easy": "やさしい日本語", "en": "English", "vi": "Tiếng Việt", "zh-Hans": "简体中文",
    "zh-Hant": "繁體中文", "ko": "한국어", "pt": "Português", "es": "Español", "tl": "Tagalog",
    "ne": "नेपाली", "th": "ไทย", "id": "Bahasa Indonesia", "my": "မြန်မာဘာသာ", "km": "ខ្មែរ",
    "mn": "Монгол", "uk": "Українська", "si": "සිංහල", "bn": "বাংলা", "fr": "Français",
}
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class ThreadMemory:
    """Last question per (channel, thread_ts), least recently used dropped first. In memory only:
    a restart forgets open conversations, which then start afresh (no personal data on disk)."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, channel: str, thread_ts: str) -> Optional[str]:
        with self._lock:
            value = self._items.get((channel, thread_ts))
            if value is not None:
                self._items.move_to_end((channel, thread_ts))
            return value

    def put(self, channel: str, thread_ts: str, question: str) -> None:
        with self._lock:
            self._items[(channel, thread_ts)] = question
            self._items.move_to_end((channel, thread_ts))
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def with_context(previous: Optional[str], question: str, limit: int) -> str:
    """The query for a follow-up: the earlier question(s), clipped from the front, then the new one."""
    if not previous:
        return question
    room = min(CONTEXT_CHARS, limit - len(question) - 1)
    return f"{previous[-room:]}\n{question}" if room > 0 else question


def clean(text: str) -> str:
    """Message text without user mentions (``<@U123>``) and surplus whitespace."""
    return " ".join(_MENTION.sub(" ", text or "").split())


def edition_buttons(answer: Answer, languages: list[str], kb: KnowledgeBase) -> Optional[dict[str, Any]]:
    """An actions block: "Show in <language>" for editions that have the top cited section."""
    hit = next((h for h in answer.sources if h.chunk.section_id), None)
    if hit is None:
        return None
    buttons = []
    for lang in languages:
        if lang == hit.chunk.language or not kb.in_edition(hit, lang):
            continue
        value = json.dumps({"section_id": hit.chunk.section_id, "language": lang,
                            "chunk_id": hit.chunk.chunk_id}, ensure_ascii=False)
        buttons.append({"type": "button", "action_id": f"{SHOW_ACTION}:{lang}", "value": value,
                        "text": {"type": "plain_text", "text": f"Show in {LANGUAGE_NAMES.get(lang, lang)}"[:75]}})
        if len(buttons) == MAX_BUTTONS:
            break
    return {"type": "actions", "block_id": "editions", "elements": buttons} if buttons else None


def section_blocks(chunks: list[Any], section_id: str, language: str) -> dict[str, Any]:
    """A message with one edition's text of a section, headed by its citation."""
    if not chunks:
        text = f"Section {section_id} is not in the {language} edition."
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    label = Citation.of(chunks[0]).label()
    body = slack_escape("\n".join(c.text for c in chunks))
    parts = [body[i:i + TEXT_LIMIT] for i in range(0, len(body), TEXT_LIMIT)][:10]
    blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(label)[:TEXT_LIMIT]}]}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": p}} for p in parts]
    return {"text": label[:TEXT_LIMIT], "blocks": blocks}


class SlackBot:
    """The listeners, kept apart from bolt wiring so HTTP and socket mode share them."""

    def __init__(self, runner: KBRunner, config: ServiceConfig) -> None:
        self.runner = runner
        self.config = config
        self.threads = ThreadMemory()
        self._languages: tuple[str, list[str]] = ("", [])

    def editions(self) -> list[str]:
        """Edition languages in the live index, Japanese first (cached per index version)."""
        kb = self.runner.kb
        if self._languages[0] != kb.version:
            langs = sorted(kb.status().languages, key=lambda lang: (lang != "ja", lang != "ja-easy", lang))
            self._languages = (kb.version, langs)
        return self._languages[1]

    def _answer(self, query: str) -> tuple[Answer, Optional[dict[str, Any]]]:
        answer = self.runner.kb.ask(query)
        return answer, edition_buttons(answer, self.editions(), self.runner.kb)

    def reply(self, client: Any, channel: str, thread_ts: Optional[str], question: str,
              header: Optional[str] = None) -> Optional[str]:
        """Answer ``question`` (with the thread's context) and post it; returns the message ts."""
        previous = self.threads.get(channel, thread_ts) if thread_ts else None
        query = with_context(previous, question, self.runner.kb.settings.max_query_chars)
        try:
            answer, buttons = self.runner.call_sync(self._answer, query)
        except (KBError, CallTimeout) as exc:
            posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=f"Sorry: {exc}")
            return posted.get("ts")
        payload = to_slack(answer)
        blocks = ([{"type": "context", "elements": [{"type": "mrkdwn", "text": header}]}] if header else [])
        blocks += payload["blocks"] + ([buttons] if buttons else [])
        if thread_ts:  # remembered before posting: a quick reply to the answer finds its context
            self.threads.put(channel, thread_ts, query)
        posted = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=payload["text"],
                                         blocks=blocks[:50], unfurl_links=False)
        if not thread_ts:  # a new message (slash command): its own thread takes the follow-ups
            self.threads.put(channel, posted["ts"], query)
        return posted.get("ts")

    # -- listeners (bolt passes arguments by name) -----------------------------------------
    def on_mention(self, event: dict[str, Any], client: Any) -> None:
        question = clean(event.get("text", ""))
        thread_ts = event.get("thread_ts") or event["ts"]
        if not question:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts,
                                    text="Ask me a question after the mention, e.g. 在留カードをなくした")
            return
        self.reply(client, event["channel"], thread_ts, question)

    def on_message(self, event: dict[str, Any], client: Any, context: Any) -> None:
        """A reply in a thread the bot answered: a follow-up question."""
        thread_ts = event.get("thread_ts")
        if not thread_ts or event.get("subtype") or event.get("bot_id"):
            return  # not a thread reply, an edit/join/bot message
        bot_user = getattr(context, "bot_user_id", None) or context.get("bot_user_id")
        if bot_user and f"<@{bot_user}" in event.get("text", ""):
            return  # a mention: the app_mention listener answers it
        if self.threads.get(event["channel"], thread_ts) is None:
            return  # someone else's thread
        question = clean(event.get("text", ""))
        if question:
            self.reply(client, event["channel"], thread_ts, question)

    def on_command(self, ack: Any, command: dict[str, Any], client: Any, respond: Any) -> None:
        question = " ".join((command.get("text") or "").split())
        if not question:
            ack("Usage: /madoguchi <question>, e.g. /madoguchi 在留カードをなくした")
            return
        ack()  # within Slack's 3 s; the answer follows as a message whose thread takes follow-ups
        header = f"<@{command.get('user_id', '')}> asked: {slack_escape(question)}"[:TEXT_LIMIT]
        try:
            self.reply(client, command["channel_id"], None, question, header=header)
        except Exception as exc:  # e.g. not_in_channel: answer privately instead
            log.warning("slash command reply failed (%s); answering ephemerally", type(exc).__name__)
            answer = self.runner.call_sync(self.runner.kb.ask, question)
            respond(**to_slack(answer), response_type="ephemeral")

    def on_show_edition(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        try:
            value = json.loads(action.get("value") or "{}")
            section_id, language = str(value["section_id"]), str(value["language"])
        except (ValueError, KeyError, TypeError):
            return
        chunks = self.runner.call_sync(self.runner.kb.section, section_id, language)
        message = body.get("message") or {}
        container = body.get("container") or {}
        thread_ts = message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, unfurl_links=False,
                                **section_blocks(chunks, section_id, language))


def build_bolt_app(runner: KBRunner, config: ServiceConfig, *, client: Any = None, http: bool = True) -> Any:
    """A bolt App wired to ``SlackBot``. Token verification (auth.test) is deferred to the first
    request, so the service starts even while Slack is unreachable; ``client`` replaces the WebClient."""
    from slack_bolt import App
    from slack_sdk import WebClient

    client = client or WebClient(token=config.slack_bot_token)
    app = App(client=client, signing_secret=config.slack_signing_secret if http else None,
              token_verification_enabled=False, request_verification_enabled=http,
              ignoring_self_events_enabled=True, logger=logging.getLogger("slack_bolt.madoguchi"))
    bot = SlackBot(runner, config)
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


def slack_router(runner: KBRunner, config: ServiceConfig, *, client: Any = None) -> APIRouter:
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from slack_sdk.signature import SignatureVerifier

    bolt = build_bolt_app(runner, config, client=client)
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


def socket_mode_handler(runner: KBRunner, config: ServiceConfig) -> Any:
    """The socket-mode handler (not yet connected): Slack is reached over an outbound WebSocket."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not (config.slack_app_token and config.slack_bot_token):
        raise KBError("socket mode needs SLACK_APP_TOKEN (xapp-...) and SLACK_BOT_TOKEN (xoxb-...)")
    return SocketModeHandler(build_bolt_app(runner, config, http=False), config.slack_app_token)


def run_socket_mode(index: Optional[str] = None) -> None:
    """Open the knowledge base and serve Slack over socket mode until interrupted."""
    from serve.logs import configure_logging

    configure_logging()
    config = ServiceConfig.from_env()
    kb = KnowledgeBase.open(index)
    runner = KBRunner(kb, workers=config.workers, timeout=config.timeout)
    try:
        socket_mode_handler(runner, config).start()  # blocks
    finally:
        runner.close()
        kb.close()


if __name__ == "__main__":
    run_socket_mode()
