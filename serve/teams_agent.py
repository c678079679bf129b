"""Microsoft Teams agent on the Microsoft 365 Agents SDK: ``POST /api/messages``.

Works in 1:1 chats, group chats and channels (where Teams delivers only messages that @mention the
agent; the mention is removed before the question is asked). Each question gets a typing indicator,
then an Adaptive Card 1.5 (``answer.render.card``): a heading per cited section, numbered citations
with section, page and link, "show in <language>" buttons (``Action.Submit``: the agent answers with
that edition's section), helpful / not helpful (``Action.Execute``: recorded in the feedback log,
answered in place) and "New question" (forgets the chat's follow-up context).

Incoming requests are checked as the SDK does it (``jwt_authorization_decorator``: the Bot
Framework / Entra token's signature, audience = our app id, issuer and tenant binding), configured
by the SDK's standard settings ``CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID`` /
``__CLIENTSECRET`` / ``__TENANTID``; replies go to the activity's ``serviceUrl`` with a token MSAL
gets for that app. ``KB_TEAMS_ANONYMOUS=1`` (loopback only) skips both, for the Agents Playground.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from fastapi import APIRouter, Request

from answer.render.card import FEEDBACK_VERB, NEW_TOPIC_VERB, SHOW_VERB, section_card, to_adaptive_card
from kb.errors import KBError
from serve.access import Asker, Refused
from serve.chatconfig import ChatConfig
from serve.conversation import BotCore
from serve.runner import CallTimeout
from serve.teams import question_text

log = logging.getLogger("madoguchi.teams")
HELP = "Ask me a question, e.g. 在留カードをなくした (in a channel: @Madoguchi 在留カードをなくした)."


def connections_from(chat: ChatConfig) -> Any:
    """MSAL connections from the SDK's standard settings (anonymous mode: an app without an id)."""
    from microsoft_agents.authentication.msal import MsalConnectionManager

    settings = dict(chat.agents_sdk)
    if not chat.teams_app_id:
        settings["CONNECTIONS"] = {"SERVICE_CONNECTION": {"SETTINGS": {"ANONYMOUS_ALLOWED": "true"}}}
    return MsalConnectionManager(**settings)


def asker(activity: Any) -> Asker:
    """Tenant, user and conversation of a Teams activity (the channel thread, or the chat)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation
    tenant = getattr(conversation, "tenant_id", None) or (data.get("tenant") or {}).get("id") or ""
    sender = activity.from_property
    user = (getattr(sender, "aad_object_id", None) or getattr(sender, "id", None) or "") if sender else ""
    return Asker("teams", tenant, user, conversation.id if conversation else "")


class TeamsAgent:
    """The ``AgentApplication`` with Madoguchi's handlers, and the FastAPI ``CloudAdapter``."""

    def __init__(self, core: BotCore, chat: ChatConfig, connections: Any) -> None:
        from microsoft_agents.hosting.core import AgentApplication, MemoryStorage, TurnState
        from microsoft_agents.hosting.core.app import ApplicationOptions
        from microsoft_agents.hosting.fastapi import CloudAdapter

        self.core = core
        self.connections = connections
        self.adapter = CloudAdapter(connection_manager=connections)
        options = ApplicationOptions(storage=MemoryStorage(), bot_app_id=chat.teams_app_id or "",
                                     start_typing_timer=False)  # one typing activity per question, sent first
        self.app = AgentApplication[TurnState](options, connection_manager=connections)
        self.app.adaptive_card.action_submit(SHOW_VERB)(self.on_show)
        self.app.adaptive_card.action_submit(NEW_TOPIC_VERB)(self.on_new_topic)
        self.app.adaptive_card.action_execute(FEEDBACK_VERB)(self.on_feedback)
        self.app.message()(self.on_message)  # ranked last: the card actions above match first

    def auth_configuration(self, chat: ChatConfig) -> Any:
        """What the SDK's JWT check validates against: the service connection's app id and tenant.
        The issuer allow-list (Bot Framework, our tenant, Microsoft's own) is on unless the SDK setting
        ``…__SETTINGS__VALIDATE_ISSUER`` says otherwise: the SDK leaves it off for old deployments."""
        config = self.connections.get_default_connection_configuration()
        config.ANONYMOUS_ALLOWED = chat.teams_anonymous
        settings = chat.agents_sdk.get("CONNECTIONS", {}).get("SERVICE_CONNECTION", {}).get("SETTINGS", {})
        if "VALIDATE_ISSUER" not in settings:
            config.VALIDATE_ISSUER = True
        return config

    async def _send_card(self, context: Any, card: dict[str, Any]) -> None:
        from microsoft_agents.hosting.core import CardFactory, MessageFactory

        await context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

    async def on_message(self, context: Any, state: Any) -> None:
        from microsoft_agents.activity import Activity, ActivityTypes

        question = question_text(context.activity.text or "")
        if not question:
            await context.send_activity(HELP)
            return
        await context.send_activity(Activity(type=ActivityTypes.typing))
        who = asker(context.activity)
        try:
            answer = await self.core.ask_async(who, question, max_age=self.core.follow_up_seconds)
        except (KBError, CallTimeout, Refused) as exc:
            await context.send_activity(str(exc) if isinstance(exc, Refused) else f"Sorry: {exc}")
            return
        await self._send_card(context, to_adaptive_card(answer, languages=self.core.languages_for(answer),
                                                        feedback=True, new_topic=bool(who.conversation)))

    async def on_show(self, context: Any, state: Any, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        section_id, language = str(data.get("section_id", "")), str(data.get("language", ""))
        if not section_id or not language:
            return
        try:
            chunks = await self.core.section(section_id, language)
        except (KBError, CallTimeout) as exc:
            await context.send_activity(f"Sorry: {exc}")
            return
        await self._send_card(context, section_card(chunks, section_id, language))

    async def on_new_topic(self, context: Any, state: Any, data: Any) -> None:
        self.core.memory.forget(asker(context.activity).key)
        await context.send_activity("OK: your next question starts a new topic.")

    async def on_feedback(self, context: Any, state: Any, data: Any) -> Optional[Any]:
        from microsoft_agents.hosting.core.app.adaptive_card import factory

        self.core.record_feedback(asker(context.activity), data if isinstance(data, dict) else {})
        return factory.message("Thank you: your feedback was recorded.")


def teams_agent_router(agent: TeamsAgent) -> APIRouter:
    """``POST /api/messages``, checked by the SDK's JWT decorator (reads ``app.state.agent_configuration``)."""
    from microsoft_agents.hosting.fastapi import jwt_authorization_decorator, start_agent_process

    router = APIRouter()

    @router.post("/api/messages", tags=["chat"], response_model=None)
    @jwt_authorization_decorator
    async def messages(request: Request) -> Any:
        """Teams / Azure Bot Service activities (Microsoft 365 Agents SDK)."""
        return await start_agent_process(request, agent.app, agent.adapter)

    return router
