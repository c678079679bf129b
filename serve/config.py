"""Service settings from the environment (the index/model settings stay in ``kb.config.Settings``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from kb.errors import ConfigError
from serve.chatconfig import ChatConfig

MAX_K = 50  # a desk tool never needs more; bounds the work one request can ask for


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw}")
    return value


@dataclass(frozen=True)
class ServiceConfig:
    """What the service needs beyond the knowledge base. Secrets are None when not configured."""

    token: str | None = None  # KB_SERVE_TOKEN: bearer token for /search, /ask, /status
    log_queries: bool = False  # KB_SERVE_LOG_QUERIES=1: put question text in access logs (personal data!)
    timeout: float = 10.0  # KB_SERVE_TIMEOUT: seconds per kb call, queueing included -> 504
    workers: int = 2  # KB_SERVE_WORKERS: kb calls running at once (CPU-bound; ~ cores)
    max_body_bytes: int = 65536  # KB_SERVE_MAX_BODY_BYTES -> 413 above this
    request_timeout: float = 10.0  # KB_SERVE_REQUEST_TIMEOUT: seconds to receive a request's head and body
    slack_signing_secret: str | None = None  # SLACK_SIGNING_SECRET
    slack_bot_token: str | None = None  # SLACK_BOT_TOKEN
    slack_app_token: str | None = None  # SLACK_APP_TOKEN (socket mode)
    teams_shared_secret: str | None = None  # TEAMS_SHARED_SECRET (base64, as Teams shows it)
    chat: ChatConfig = field(default_factory=ChatConfig)  # bots and agents: access, limits, audit, Teams agent

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "ServiceConfig":
        env = os.environ if env is None else env
        return cls(
            token=env.get("KB_SERVE_TOKEN") or None,
            log_queries=_flag(env.get("KB_SERVE_LOG_QUERIES")),
            timeout=_number(env, "KB_SERVE_TIMEOUT", cls.timeout),
            workers=int(_number(env, "KB_SERVE_WORKERS", cls.workers, int)),
            max_body_bytes=int(_number(env, "KB_SERVE_MAX_BODY_BYTES", cls.max_body_bytes, int)),
            request_timeout=_number(env, "KB_SERVE_REQUEST_TIMEOUT", cls.request_timeout),
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            teams_shared_secret=env.get("TEAMS_SHARED_SECRET") or None,
            chat=ChatConfig.from_env(env),
        )

    @property
    def slack_http(self) -> bool:
        """Mount /slack/events: needs the signing secret (to verify) and the bot token (to reply)."""
        return bool(self.slack_signing_secret and self.slack_bot_token)

    @property
    def tokens(self) -> dict[str, str]:
        """Every accepted bearer token by client name (KB_SERVE_TOKEN is "default")."""
        return {**({"default": self.token} if self.token else {}), **self.chat.tokens}

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        hidden = {"token", "slack_signing_secret", "slack_bot_token", "slack_app_token", "teams_shared_secret"}
        shown = ", ".join(f"{k}={'***' if k in hidden and v else v!r}" for k, v in self.__dict__.items())
        return f"ServiceConfig({shown})"
