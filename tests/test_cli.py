"""The `kb` commands through typer's runner, with the fake embedder."""
import json

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


@pytest.fixture
def index(tmp_path, fake_embedder):
    src = tmp_path / "src"
    src.mkdir()
    (src / "guide.md").write_text(
        "+++\ntitle = \"案内\"\nlanguage = \"ja\"\nedition = \"t\"\n+++\n<!-- page: 7 -->\n# 第1章 手続\n\n"
        "## 1 在留カード\n在留カードをなくしたら警察に届けます。\n\n## 2 住所\n引っ越したら14日以内に届け出ます。\n",
        encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(src), "--index", str(tmp_path / "idx"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["chunks"] == 2 and report["sources"][0]["source_id"] == "src/guide.md"
    return tmp_path / "idx"


def test_search_json_schema(index):
    result = runner.invoke(app, ["search", "在留カード なくした", "--index", str(index), "--json", "-k", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"query", "hits", "timings_ms"}
    hit = data["hits"][0]
    assert set(hit) == {"rank", "score", "dense_score", "keyword_score", "fused_score", "rerank_score", "text",
                        "citation"}
    assert hit["citation"]["section_id"] == "1.1" and hit["citation"]["page_label"] == "7"
    assert hit["citation"]["label"].startswith("案内 [ja, t] § 1.1")


def test_search_table_and_ask_and_status(index):
    result = runner.invoke(app, ["search", "引っ越し", "--index", str(index)])
    assert result.exit_code == 0 and "住所" in result.stdout
    result = runner.invoke(app, ["ask", "引っ越したら何をしますか", "--index", str(index)])
    assert result.exit_code == 0 and "1.2 住所" in result.stdout and "[1] 案内 [ja, t] § 1.2" in result.stdout
    data = json.loads(runner.invoke(app, ["ask", "引っ越し", "--index", str(index), "--json"]).stdout)
    assert set(data) == {"query", "abstained", "verdict", "note", "support", "method", "language", "edition",
                         "sentences", "blocks", "sources", "timings_ms"}
    assert data["sources"][0]["number"] == 1
    data = json.loads(runner.invoke(app, ["status", "--index", str(index), "--json"]).stdout)
    assert data["chunks"] == 2 and data["sources"][0]["title"] == "案内"


def test_index_from_environment(index, monkeypatch):
    monkeypatch.setenv("KB_INDEX", str(index))
    assert runner.invoke(app, ["status", "--json"]).exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["search", "  "], "query is empty"),
    (["ingest", "/no/such/path"], "no such file or folder"),
    (["status", "--index", "/no/such/index"], "no index at"),
])
def test_user_mistakes_are_one_line_errors(args, message, tmp_path, fake_embedder, index):
    if args[0] == "search":
        args = [*args, "--index", str(index)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_is_an_error(index, monkeypatch):
    monkeypatch.setenv("KB_FUSION", "borda")
    result = runner.invoke(app, ["search", "x", "--index", str(index)])
    assert result.exit_code == 1 and "choose from" in result.stderr


def test_fetch_command_reports_each_edition(tmp_path):
    result = runner.invoke(app, ["fetch", "--dest", str(tmp_path / "pdf"), "--json", "--lang", "ja", "--lang", "vi"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["language"], r["status"]) for r in data] == [("ja", "skipped"), ("vi", "skipped")]


def test_shell_answers_question_after_question(index):
    stdin = "在留カードをなくした\n:lang vi\n:k 2\n引っ越し\n:quit\n"
    result = runner.invoke(app, ["shell", "--index", str(index)], input=stdin)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("回答（ガイドブックからの引用）") == 2
    assert "answer edition: vi" in result.stderr  # the shell speaks the locale's language (C here)


def test_debug_on_the_app_shows_the_traceback_and_ingest_is_sync(index, tmp_path):
    result = runner.invoke(app, ["--debug", "search", "  ", "--index", str(index)])
    assert result.exit_code != 0 and type(result.exception).__name__ == "QueryError"
    help_sync = runner.invoke(app, ["sync", "--help"]).stdout
    assert "Alias: `kb ingest`" in help_sync.replace("\n", " ")
    assert "Alias of `kb sync`" in runner.invoke(app, ["ingest", "--help"]).stdout
    assert "Alias of `kb sync`" in runner.invoke(app, ["--help"]).stdout
    result = runner.invoke(app, ["ingest", "/no/such/path"])
    assert result.exit_code == 1 and "no such file or folder" in result.stderr


def test_terminal_escapes_and_bidi_overrides_in_indexed_text_never_reach_the_terminal(tmp_path, fake_embedder):
    src = tmp_path / "hostile"
    src.mkdir()
    (src / "guide.md").write_text(
        "# 第1章 \x1b]0;pwned\x07手続\n## 1 在留カード\n在留カードを\x1b[2J\x1b[31mなくしたら\u202etxt.exe\u202c警察に届けます。\r\n",
        encoding="utf-8")
    assert runner.invoke(app, ["sync", str(src), "--index", str(tmp_path / "idx")]).exit_code == 0
    for args in (["search", "在留カード"], ["ask", "在留カードをなくした"], ["ask", "在留カード", "--render", "text"],
                 ["ask", "在留カード", "--show-passages"], ["show", "1.1"]):
        result = runner.invoke(app, [*args, "--index", str(tmp_path / "idx")])
        assert result.exit_code == 0, result.output
        assert not set(result.output) & {"\x1b", "\x07", "\u202e", "\u202c", "\r"}, args
        if args[0] == "show" or "--render" in args:  # (tables wrap the text)
            assert "なくしたらtxt.exe警察に届けます。" in result.output


def test_eval_misses_lists_the_questions_it_got_wrong(index, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"id": "hit", "question": "在留カードをなくした", "language": "ja", "gold": ["1.1"]},
        {"id": "nowhere", "question": "在留カードをなくした", "language": "ja", "gold": ["9.9.9"]},
        {"id": "oos", "question": "おいしいラーメン屋はどこ", "language": "ja", "in_scope": False}]) + "\n",
        encoding="utf-8")
    result = runner.invoke(app, ["eval", str(questions), "--index", str(index), "--mode", "hybrid",
                                 "--abstention", "--misses", "--json"])
    assert result.exit_code == 0, result.output
    misses = json.loads(result.output)["misses"]
    assert [m["id"] for m in misses["retrieval"]] == ["nowhere"] and misses["retrieval"][0]["top5"]
    assert [m["id"] for m in misses["abstention"]] == ["oos"]  # the fake model's thresholds never abstain
    table = runner.invoke(app, ["eval", str(questions), "--index", str(index), "--mode", "hybrid", "--misses"])
    assert table.exit_code == 0 and "nowhere" in table.output and "9.9.9" in table.output
