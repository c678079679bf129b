"""The desk's terminal at 80 and 120 columns (captured `kb` output on the sample, fake embedder):
no line wider than the terminal, no line starting with a 禁則 character, titles never cut short,
labels in the desk worker's language."""
import json
import re
import resource
import subprocess
import sys

import pytest
from typer.testing import CliRunner
from wcwidth import width as wcwidth

from answer.render.i18n import label, note_text, ui_language
from answer.render.linebreak import NO_START
from cli import app
from tests.conftest import ROOT

runner = CliRunner()

QUESTIONS = [  # (question, --lang) in the six desk editions
    ("在留カードをなくしたらどうすればいいですか", None),
    ("在留カードを なくした ときは どう しますか", "ja-easy"),
    ("I lost my residence card. What should I do?", None),
    ("Tôi bị mất thẻ cư trú thì phải làm gì?", "vi"),
    ("निवास कार्ड हरायो भने के गर्ने?", "ne"),
    ("บัตรผู้พำนักหาย ต้องทำอย่างไร", "th"),
]


def kb_output(args, columns, **env):
    result = runner.invoke(app, args, env={"COLUMNS": str(columns), **env})
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_readable(text, columns):
    for line in text.splitlines():
        assert wcwidth(line) <= columns, f"{wcwidth(line)} cells: {line}"
        start = line.lstrip(" \u00a0")
        assert not start or start[0] not in NO_START, f"starts with {start[0]}: {line}"


def flat(text):
    """The output with line breaks and indents removed, to find a title whatever its wrapping."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("question, lang", QUESTIONS)
def test_ask_and_search_read_well(fake_sample_index, fake_embedder, question, lang, columns):
    idx = ["--index", str(fake_sample_index)]
    edition = ["--lang", lang] if lang else []
    text = kb_output(["ask", question, *idx, *edition], columns)
    assert_readable(text, columns)
    data = json.loads(kb_output(["ask", question, *idx, *edition, "--json"], columns))
    for source in data["sources"]:  # every document title and section heading in full
        c = source["citation"]
        assert flat(c["title"]) in flat(text) and flat(" > ".join(c["section_path"])) in flat(text)
    text = kb_output(["search", question, *idx, "-k", "5"], columns)
    assert_readable(text, columns)
    for hit in json.loads(kb_output(["search", question, *idx, "-k", "5", "--json"], columns))["hits"]:
        assert flat(hit["citation"]["label"]) in flat(text)


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("lang", ["ja", "ja-easy", "en", "vi", "ne", "th"])
def test_show_and_status_read_well(fake_sample_index, fake_embedder, lang, columns):
    idx = ["--index", str(fake_sample_index)]
    text = kb_output(["show", "1.1.3", "--lang", lang, *idx], columns)
    assert_readable(text, columns)
    chunks = json.loads(kb_output(["show", "1.1.3", "--lang", lang, *idx, "--json"], columns))["chunks"]
    assert flat(chunks[0]["title"]) in flat(text) and flat(" > ".join(chunks[0]["section_path"])) in flat(text)
    for verbose in ([], ["--verbose"]):
        text = kb_output(["status", *idx, *verbose], columns)
        assert_readable(text, columns)
    status = json.loads(kb_output(["status", *idx, "--json"], columns))
    assert all(flat(s["title"]) in flat(text) and s["source_id"] in text for s in status["sources"])


def test_status_is_a_summary_by_edition_and_document(fake_sample_index, fake_embedder):
    idx = ["--index", str(fake_sample_index)]
    short = kb_output(["status", *idx], 80)
    assert "ja/01_nyukoku_zairyu.md" not in short and "12 documents" in short
    assert len(short.splitlines()) < 30
    assert "ja/01_nyukoku_zairyu.md" in kb_output(["status", *idx, "--verbose"], 80)


def test_a_japanese_question_gets_japanese_labels_and_ui_lang_en_switches_them(fake_sample_index, fake_embedder):
    args = ["ask", "在留カードをなくしたらどうすればいいですか", "--index", str(fake_sample_index)]
    assert label("answered", "ja") in kb_output(args, 80)
    english = kb_output([*args, "--ui-lang", "en"], 80)
    assert label("answered", "en") in english and label("answered", "ja") not in english
    assert label("answered", "en") in kb_output(["ask", "I lost my residence card", *args[2:]], 80)
    assert label("answered", "ja") in kb_output(["ask", "I lost my residence card", *args[2:]], 80, LANG="ja_JP.UTF-8")
    assert label("answered", "en") in kb_output(args, 80, KB_UI_LANG="en")


def test_each_answer_section_is_a_block_with_its_citation_below(fake_sample_index, fake_embedder):
    args = ["ask", "I lost my residence card", "--index", str(fake_sample_index)]
    data = json.loads(kb_output([*args, "--json"], 80))
    lines = kb_output(args, 80).splitlines()
    for block in data["blocks"]:
        heading = next(i for i, line in enumerate(lines) if line.startswith(block["section_id"] + " "))
        citation = next(i for i, line in enumerate(lines) if line.strip().startswith(f"[{block['source']}] "))
        assert heading + 1 < citation  # the heading, the quoted sentences, then the citation
        assert any(f"[{block['source']}]" in line for line in lines[heading + 1:citation])


def test_not_found_and_unsure_look_different_from_an_answer(fake_sample_index, monkeypatch, fake_embedder):
    from answer.render.terminal import answer_view
    from kb import KnowledgeBase
    from dataclasses import replace

    with KnowledgeBase.open(fake_sample_index) as kb:
        answer = kb.ask("I lost my residence card")
    texts = {v: "\n".join(answer_view(replace(answer, verdict=v), ui="en").text(80)) for v in ("answered", "unsure")}
    assert flat(label("unsure", "en")) in flat(texts["unsure"]) and label("answered", "en") not in texts["unsure"]
    assert flat(label("answered", "en")) in flat(texts["answered"])
    monkeypatch.setenv("KB_ABSTAIN_BELOW", "1")  # a probability: nothing is supported enough
    monkeypatch.setenv("KB_UNSURE_BELOW", "1")
    text = kb_output(["ask", "火星に住むには", "--index", str(fake_sample_index)], 80)
    assert label("not_found", "ja") in text and label("nearest", "ja") in text
    assert flat(note_text("The knowledge base has no passage that answers this question. The nearest sections "
                     "are listed below; check them or refer the question onwards.", "ja")) in flat(text)


def test_the_shell_banner_fits_80_columns(fake_sample_index, fake_embedder):
    result = runner.invoke(app, ["shell", "--index", str(fake_sample_index)], input=":quit\n",
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0 and ":lang" in result.stderr
    assert_readable(result.stderr, 80)


def test_empty_question_fails_fast_with_one_line(tmp_path):
    # A fresh KB_HOME: without the early check this would build the sample index first (a minute).
    # CPU time, not wall time: a busy shared machine must not fail it (idle, the process takes ~0.35 s).
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "cli", "ask", ""], cwd=ROOT, capture_output=True, text=True,
                          env={"KB_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "query is empty" in done.stderr and cpu < 1.0, cpu  # interpreter and imports included
    assert not (tmp_path / "home" / "index").exists()


def test_errors_follow_the_question_language(fake_sample_index, fake_embedder):
    result = runner.invoke(app, ["show", "9.9.9", "--lang", "vi", "--index", str(fake_sample_index)],
                           env={"LANG": "ja_JP.UTF-8"})
    assert result.exit_code == 1 and result.stderr.startswith("エラー:") and "9.9.9 は vi 版にありません" in result.stderr


def test_ui_language_rules(monkeypatch):
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert ui_language("auto", "ja") == "ja" and ui_language(None, "ja-easy") == "ja"
    assert ui_language(None, text="在留カードをなくした") == "ja" and ui_language(None, "vi") == "en"
    assert ui_language("en", "ja") == "en" and ui_language("ja", "vi") == "ja"
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    assert ui_language(None, "vi") == "ja"
    monkeypatch.setenv("LC_ALL", "C")
    assert ui_language(None, "vi") == "en"
