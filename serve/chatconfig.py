"""Settings of the chat bots and agent endpoints: who may ask (tokens, allow-lists), how often,
what is recorded, and the Teams agent's Microsoft 365 Agents SDK connection (standard env names)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kb.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
AGENTS_SDK_PREFIXES = ("CONNECTIONS__", "CONNECTIONSMAP__", "AGENTAPPLICATION__")


def _ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(x.strip() for x in (env.get(name) or "").replace(";", ",").split(",") if x.strip())


def _tokens(raw: str | None) -> dict[str, str]:
    """``KB_SERVE_TOKENS="desk-a=tok1,copilot=tok2"``: one bearer token per client, named in the audit log."""
    tokens: dict[str, str] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        name, sep, token = item.strip().partition("=")
        if not sep or not name.strip() or len(token.strip()) < 16:
            raise ConfigError("KB_SERVE_TOKENS must be name=token pairs separated by commas, "
                              "each token at least 16 characters")
        tokens[name.strip()] = token.strip()
    return tokens


def _path(env: Mapping[str, str], name: str) -> Path | None | bool:
    raw = (env.get(name) or "").strip()
    if raw.lower() in ("0", "off", "false", "no"):
        return False  # turned off
    return Path(raw) if raw else None  # None: the default under $KB_HOME


def agents_sdk_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The Agents SDK's own configuration (``CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID`` …)."""
    from microsoft_agents.activity import load_configuration_from_env

    return load_configuration_from_env({k: v for k, v in env.items() if k.startswith(AGENTS_SDK_PREFIXES)})


@dataclass(frozen=True)
class ChatConfig:
    """Access, limits and records shared by Slack, the Teams agent and MCP. Secrets never printed."""

    tokens: Mapping[str, str] = field(default_factory=dict)  # KB_SERVE_TOKENS: extra bearer tokens by client
    slack_teams: frozenset[str] = frozenset()  # KB_SLACK_TEAM_IDS: allowed workspaces (empty: any)
    teams_tenants: frozenset[str] = frozenset()  # KB_TEAMS_TENANT_IDS: allowed Entra tenants (empty: any)
    rate_per_minute: float = 20  # KB_CHAT_RATE_PER_MINUTE: questions per person (or MCP client) per minute
    follow_up_seconds: float = 900  # KB_CHAT_FOLLOW_UP_SECONDS: a Teams chat's earlier question counts this long
    audit_log: Path | None | bool = None  # KB_SERVE_AUDIT_LOG (default $KB_HOME/audit.jsonl; "off")
    feedback_log: Path | None | bool = None  # KB_SERVE_FEEDBACK_LOG (default $KB_HOME/feedback.jsonl; "off")
    mcp: bool = True  # KB_SERVE_MCP=0: do not mount /mcp
    teams_anonymous: bool = False  # KB_TEAMS_ANONYMOUS=1: Teams agent without JWT checks, loopback only
    agents_sdk: Mapping[str, Any] = field(default_factory=dict)  # CONNECTIONS__… (Microsoft's names)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ChatConfig":
        from serve.config import _flag, _number  # the service's own parsers (serve.config imports this module)

        env = os.environ if env is None else env
        return cls(tokens=_tokens(env.get("KB_SERVE_TOKENS")), slack_teams=_ids(env, "KB_SLACK_TEAM_IDS"),
                   teams_tenants=_ids(env, "KB_TEAMS_TENANT_IDS"),
                   rate_per_minute=_number(env, "KB_CHAT_RATE_PER_MINUTE", cls.rate_per_minute),
                   follow_up_seconds=_number(env, "KB_CHAT_FOLLOW_UP_SECONDS", cls.follow_up_seconds),
                   audit_log=_path(env, "KB_SERVE_AUDIT_LOG"), feedback_log=_path(env, "KB_SERVE_FEEDBACK_LOG"),
                   mcp=_flag(env.get("KB_SERVE_MCP", "1")), teams_anonymous=_flag(env.get("KB_TEAMS_ANONYMOUS")),
                   agents_sdk=agents_sdk_settings(env))

    @property
    def teams_app_id(self) -> str | None:
        """The Teams agent's app (client) id: ``CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID``."""
        settings = self.agents_sdk.get("CONNECTIONS", {}).get("SERVICE_CONNECTION", {}).get("SETTINGS", {})
        return settings.get("CLIENTID") or None

    @property
    def teams_agent(self) -> bool:
        """Mount /api/messages: an app id is configured, or the anonymous development mode is on."""
        return bool(self.teams_app_id or self.teams_anonymous)

    def check_bind(self, host: str) -> None:
        """Refuse the anonymous Teams mode on an address other machines can reach."""
        if self.teams_anonymous and host not in LOOPBACK:
            raise ConfigError(f"KB_TEAMS_ANONYMOUS=1 turns off the Teams agent's token checks and is for "
                              f"local development only; bind to 127.0.0.1, not {host}")

    def __repr__(self) -> str:  # tokens and the SDK's client secret stay out of logs
        return (f"ChatConfig(tokens={sorted(self.tokens)}, slack_teams={len(self.slack_teams)}, "
                f"teams_tenants={len(self.teams_tenants)}, rate_per_minute={self.rate_per_minute}, "
                f"mcp={self.mcp}, teams_agent={self.teams_agent}, teams_anonymous={self.teams_anonymous})")
