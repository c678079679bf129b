"""Optional generated answers from any OpenAI-compatible chat endpoint, checked before use.

The prompt holds only the retrieved passages, numbered, and requires a citation marker after every
sentence. The reply is accepted only if every sentence cites at least one marker and every marker
names a passage that exists; otherwise, or when the endpoint is down, slow or malformed, the caller
falls back to the extractive answer and says why. Base URL, model and key come from settings.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Sequence

from kb.config import LLMSettings
from kb.model import AnswerSentence, Hit

SYSTEM = (
    "You help staff at a consultation desk for foreign residents in Japan. Answer ONLY from the "
    "numbered passages you are given. After EVERY sentence put the marker of the passage(s) it comes "
    "from, like [1] or [2][3]. Never add facts, numbers, deadlines or fees that are not in the passages. "
    "If the passages do not answer the question, reply exactly: NOT_FOUND. Answer in {language}, in at "
    "most {sentences} short sentences."
)
_MARKER = re.compile(r"\[(\d+)\]")
_SENTENCE = re.compile(r"[^。！？!?.]+(?:[。！？!?]|\.(?=\s|$|\[)|$)(?:\s*\[\d+\])*")


class LLMError(Exception):
    """The endpoint's answer cannot be used; the message says why (shown to the user as a note)."""


def build_messages(query: str, hits: Sequence[Hit], language: str, max_sentences: int) -> list[dict[str, str]]:
    passages = "\n\n".join(f"[{n}] ({h.citation.label()})\n{h.chunk.text}" for n, h in enumerate(hits, 1))
    return [{"role": "system", "content": SYSTEM.format(language=language, sentences=max_sentences)},
            {"role": "user", "content": f"Passages:\n\n{passages}\n\nQuestion: {query}"}]


def call(config: LLMSettings, messages: list[dict[str, str]]) -> str:
    """POST /chat/completions; returns the reply text or raises LLMError."""
    body = json.dumps({"model": config.model, "messages": messages, "temperature": 0}).encode("utf-8")
    request = urllib.request.Request(str(config.base_url).rstrip("/") + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    if config.api_key:
        request.add_header("Authorization", f"Bearer {config.api_key}")
    try:
        with urllib.request.urlopen(request, timeout=config.timeout) as response:
            data = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise LLMError(f"the LLM endpoint answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LLMError(f"the LLM endpoint is unreachable or too slow ({reason})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LLMError("the LLM endpoint did not return JSON") from None
    try:
        return str(data["choices"][0]["message"]["content"]).strip()
    except (KeyError, IndexError, TypeError):
        raise LLMError("the LLM endpoint's reply has no choices[0].message.content") from None


def parse(reply: str, sources: int) -> list[AnswerSentence]:
    """Sentences with their markers; raises LLMError unless every sentence cites existing passages."""
    if reply.strip() == "NOT_FOUND":
        raise LLMError("the LLM found no answer in the passages")
    sentences = []
    for m in _SENTENCE.finditer(reply.replace("\n", " ")):
        piece = m.group(0).strip()
        if not piece:
            continue
        cited = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(piece)))
        text = _MARKER.sub("", piece).strip()
        if not text:
            continue
        if not cited:
            raise LLMError(f"the generated sentence has no citation: {text[:60]!r}")
        bad = [n for n in cited if not 1 <= n <= sources]  # [0] must not silently mean the last one
        if bad:
            raise LLMError(f"the generated answer cites passage(s) {bad} that do not exist")
        sentences.append(AnswerSentence(text, cited))
    if not sentences:
        raise LLMError("the LLM returned an empty answer")
    return sentences


def generate(config: LLMSettings, query: str, hits: Sequence[Hit], language: str,
             max_sentences: int) -> list[AnswerSentence]:
    """Checked sentences from the endpoint (e.g. http://127.0.0.1:8080/v1, llama.cpp), or LLMError."""
    return parse(call(config, build_messages(query, hits, language, max_sentences)), len(hits))
