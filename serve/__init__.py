"""The HTTP service: JSON API (`/search`, `/ask`), Slack bot and Teams outgoing webhook.

``create_app(kb, ServiceConfig.from_env())`` builds the FastAPI app; ``kb serve`` runs it with
uvicorn. One process holds one ``KnowledgeBase`` shared by every request (see docs/deploy.md).
"""
from serve.app import create_app
from serve.config import ServiceConfig

__all__ = ["create_app", "ServiceConfig"]
