"""The optional LLM backend against a local OpenAI-compatible server, and the chat renderers."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from answer.llm import LLMError, parse
from answer.render import SLACK_TEXT_LIMIT, to_slack, to_teams_card, to_text
from tests.cards import assert_valid_card
from kb import KnowledgeBase
from kb.errors import ConfigError
from kb.model import Answer, AnswerSentence, Chunk, Hit

GUIDE = """+++
title = "ガイド"
language = "ja"
edition = "t"
+++
<!-- page: 2 -->
# 第1章 入国・在留手続
## 1 在留カード
### (3) 紛失
在留カードをなくしたときは、まず警察に届け出ます。14日以内に地方出入国在留管理官署で再交付を申請します。
### (4) 返納
出国するときは在留カードを返納します。
"""


class FakeLLM(BaseHTTPRequestHandler):
    """Speaks /v1/chat/completions; the reply is whatever the test put in ``server.reply``."""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        reply = self.server.reply
        if reply == "SLOW":
            time.sleep(2)
            reply = "遅い答え。[1]"
        if reply == "HTTP500":
            self.send_response(500)
            self.end_headers()
            return
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the client gave up waiting (the timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def llm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    server.requests, server.reply = [], ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def kb(tmp_path, fake_embedder, llm_server):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "guide.md").write_text(GUIDE, encoding="utf-8")
    KnowledgeBase.sync([tmp_path / "src"], index=tmp_path / "idx")
    base = f"http://127.0.0.1:{llm_server.server_port}/v1"
    kb = KnowledgeBase.open(tmp_path / "idx", llm_base_url=base, llm_model="local", llm_api_key="secret",
                            llm_timeout=1.0)
    yield kb
    kb.close()


QUESTION = "在留カードをなくしたらどうしますか"


def test_generated_answer_with_valid_citations_is_used(kb, llm_server):
    llm_server.reply = "警察に届け出てください。[1] 14日以内に再交付を申請します。[1]"
    answer = kb.ask(QUESTION, generate=True)
    assert answer.method == "generated" and not answer.note
    assert [s.citations for s in answer.sentences] == [(1,), (1,)]
    assert answer.sentences[1].text == "14日以内に再交付を申請します。"
    request = llm_server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer secret"
    assert request["body"]["model"] == "local"
    prompt = request["body"]["messages"][1]["content"]
    assert "[1]" in prompt and "14日以内" in prompt  # the passages, numbered, are in the prompt


@pytest.mark.parametrize("reply, reason", [
    ("警察に届け出てください。", "no citation"),
    ("警察に届け出てください。[7]", "do not exist"),
    ("警察に届け出てください。[0]", "do not exist"),
    ("NOT_FOUND", "no answer"),
    ("HTTP500", "HTTP 500"),
    ("SLOW", "too slow"),
])
def test_unusable_generated_answers_fall_back_to_quotes(kb, llm_server, reply, reason):
    llm_server.reply = reply
    answer = kb.ask(QUESTION, generate=True)
    assert answer.method == "extractive" and reason in answer.note and "Generated answer not used" in answer.note
    for s in answer.sentences:  # the fallback is the verbatim, cited answer
        assert s.text in answer.sources[s.citations[0] - 1].chunk.text


def test_endpoint_down_falls_back(tmp_path, fake_embedder):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "guide.md").write_text(GUIDE, encoding="utf-8")
    KnowledgeBase.sync([tmp_path / "src"], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx", llm_base_url="http://127.0.0.1:9/v1", llm_timeout=1.0) as kb:
        answer = kb.ask(QUESTION, generate=True)
        assert answer.method == "extractive" and "unreachable" in answer.note
    with KnowledgeBase.open(tmp_path / "idx") as kb, pytest.raises(ConfigError, match="KB_LLM_BASE_URL"):
        kb.ask(QUESTION, generate=True)


def test_parse_keeps_multi_citations_and_english_sentences():
    got = parse("You must report it. [1][2] Then apply within 14 days.[2]", 2)
    assert [(s.text, s.citations) for s in got] == [("You must report it.", (1, 2)), ("Then apply within 14 days.", (2,))]
    with pytest.raises(LLMError):
        parse("", 2)


def sample_answer(abstained=False, note=""):
    chunk = Chunk("c1", "ja/01.md", "ガイド <sample> & co", "ja", "t", "在留カードをなくしたら警察へ。",
                  ("第1章 入国", "1 在留カード", "(3) 紛失"), "1.1.3", page_label="2")
    hit = Hit(1, 0.9, chunk)
    sentences = () if abstained else (AnswerSentence("在留カードをなくしたら警察へ。", (1,)),)
    return Answer("在留カードをなくした <b>", sentences, (hit,), abstained=abstained,
                  note=note or ("not found" if abstained else ""))


def test_text_rendering():
    text = to_text(sample_answer(note="from ja"))
    assert "在留カードをなくしたら警察へ。 [1]" in text and "[1] ガイド" in text and "p. 2" in text
    assert "Nearest sections:" in to_text(sample_answer(abstained=True))


def test_slack_blocks_follow_block_kit_shapes():
    payload = to_slack(sample_answer())
    assert isinstance(payload["text"], str) and payload["text"]
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= 50
    assert blocks[0]["type"] == "section" and blocks[0]["text"]["type"] == "mrkdwn"
    assert "*[1]*" in blocks[0]["text"]["text"]
    assert blocks[1] == {"type": "divider"}
    context = blocks[2]
    assert context["type"] == "context" and context["elements"][0]["type"] == "mrkdwn"
    assert "&lt;sample&gt; &amp; co" in context["elements"][0]["text"]  # mrkdwn escaping
    for block in blocks:
        for text in [block.get("text", {}).get("text", "")] + [e["text"] for e in block.get("elements", [])]:
            assert len(text) <= SLACK_TEXT_LIMIT


def test_teams_card_follows_adaptive_card_shapes():
    card = to_teams_card(sample_answer(note="fallback note"))
    assert_valid_card(card)  # the Adaptive Cards 1.5 JSON schema (tests/cards.py)
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert "在留カードをなくしたら警察へ。 **[1]**" in texts and "fallback note" in texts
    assert any(t.startswith("**[1]** 1.1.3 第1章 入国 > 1 在留カード > (3) 紛失 · p. 2") for t in texts)
    assert json.loads(json.dumps(card)) == card
    abstained = to_teams_card(sample_answer(abstained=True))
    assert_valid_card(abstained)
    assert any(b.get("color") == "Warning" for b in abstained["body"])