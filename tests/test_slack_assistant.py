"""Slack assistant threads (bolt's ``Assistant``), over signed HTTP requests to the real bolt app and a
fake Slack Web API on loopback (the fixtures of tests/test_slack.py)."""
from __future__ import annotations

import json
import time

from tests.test_slack import post_event, slack, text_of  # noqa: F401  (slack is a fixture)

THREAD = "1700000500.000100"


def assistant_event(event: dict) -> str:
    return json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"Ev{time.monotonic_ns()}", "event_time": int(time.time()), "event": event,
                       "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]})


def thread_started() -> str:
    return assistant_event({"type": "assistant_thread_started", "event_ts": THREAD, "assistant_thread": {
        "user_id": "U1", "channel_id": "D1", "thread_ts": THREAD, "context": {"channel_id": "C1", "team_id": "T1"}}})


def user_message(text: str, ts: str) -> str:
    return assistant_event({"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": text,
                            "ts": ts, "thread_ts": THREAD, "event_ts": ts})


def calls(fake, method: str) -> list[dict]:
    return [args for m, args in fake.calls if m == method]


def wait_for(fake, method: str, n: int, timeout: float = 10) -> list[dict]:
    with fake.cond:
        fake.cond.wait_for(lambda: len(calls(fake, method)) >= n, timeout)
    return calls(fake, method)


def test_a_new_assistant_thread_gets_a_greeting_and_suggested_prompts(slack):  # noqa: F811
    http, fake, asked = slack
    assert post_event(http, thread_started()).status_code == 200
    [prompts] = wait_for(fake, "assistant.threads.setSuggestedPrompts", 1)
    listed = prompts["prompts"] if isinstance(prompts["prompts"], list) else json.loads(prompts["prompts"])
    assert prompts["channel_id"] == "D1" and prompts["thread_ts"] == THREAD
    assert {"title": "在留カードをなくした", "message": "在留カードをなくした"} in listed and len(listed) <= 4
    [greeting] = wait_for(fake, "chat.postMessage", 1)
    assert greeting["thread_ts"] == THREAD and "guidebook" in greeting["text"].lower() and asked == []


def test_a_question_in_the_thread_gets_a_status_then_a_cited_answer_and_follow_ups(slack):  # noqa: F811
    http, fake, asked = slack
    post_event(http, user_message("在留カードをなくした", "1700000500.000200"))
    [status] = wait_for(fake, "assistant.threads.setStatus", 1)
    assert status["channel_id"] == "D1" and status["thread_ts"] == THREAD and "searching" in status["status"]
    [answer] = wait_for(fake, "chat.postMessage", 1)
    assert answer["channel"] == "D1" and answer["thread_ts"] == THREAD
    text = text_of(answer)
    assert "*1.1.3 (3) 紛失*" in text and "14日以内" in text and "[1] ガイド [ja, t] § 1.1.3" in text
    assert "show_edition:vi" in text  # the "Show in Tiếng Việt" button
    status_at = fake.calls.index(("assistant.threads.setStatus", status))
    assert status_at < fake.calls.index(("chat.postMessage", answer))  # status first, answer after
    post_event(http, user_message("期限は？", "1700000500.000300"))
    wait_for(fake, "chat.postMessage", 2)
    assert asked == ["在留カードをなくした", "在留カードをなくした\n期限は？"]  # the thread is the conversation
