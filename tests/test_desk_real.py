"""Integration: the desk's terminal and the handout on the sample with the real model (six editions)."""
import json

import pytest
from typer.testing import CliRunner

from kb import KnowledgeBase, Settings
from kb.config import SAMPLE_DIR
from cli import app
from tests.conftest import DESK_EDITIONS, MODEL_CACHE
from tests.test_desk_views import QUESTIONS, assert_readable, flat

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def desk_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("desk")
    settings = Settings.load(home=root, model_cache=MODEL_CACHE).with_(index=root / "index")
    KnowledgeBase.sync([SAMPLE_DIR / lang for lang in DESK_EDITIONS], settings=settings)
    return root / "index"


def run(args, columns=80):
    result = runner.invoke(app, args, env={"COLUMNS": str(columns), "KB_MODEL_CACHE": str(MODEL_CACHE)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("question, lang", QUESTIONS)
def test_ask_search_show_status_read_well(desk_index, question, lang, columns):
    idx = ["--index", str(desk_index)]
    edition = ["--lang", lang] if lang else []
    text = run(["ask", question, *idx, *edition], columns)
    assert_readable(text, columns)
    data = json.loads(run(["ask", question, *idx, *edition, "--json"], columns))
    assert data["verdict"] != "not_found" and any(b["section_id"] == "1.1.3" for b in data["blocks"]), data["blocks"]
    for source in data["sources"]:
        c = source["citation"]
        assert flat(c["title"]) in flat(text) and flat(" > ".join(c["section_path"])) in flat(text)
    assert_readable(run(["search", question, *idx], columns), columns)
    assert_readable(run(["show", "1.1.3", "--lang", lang or "ja", *idx], columns), columns)
    assert_readable(run(["status", *idx], columns), columns)


def test_handout_for_the_lost_residence_card_in_vietnamese(desk_index, tmp_path):
    out = tmp_path / "out.html"
    run(["handout", "在留カードをなくした", "--lang", "vi", "-o", str(out), "--index", str(desk_index)])
    page = out.read_text(encoding="utf-8")
    vi = "Sách hướng dẫn sinh hoạt và làm việc (Bản mẫu) [vi, sample-2026] § 1.1.3"
    ja = "生活・就労ガイドブック（サンプル） [ja, sample-2026] § 1.1.3"
    assert vi in page and ja in page and "(3) Mất thẻ, p. 2" in page and "(3) 紛失, p. 2" in page
    assert "Khi bị mất thẻ cư trú" in page or "Nếu thẻ lưu trú" in page or "bị mất hoặc bị lấy cắp" in page
    assert "在留カードをなくしたときや盗まれたときは" in page
    assert "Tệp này là bản mẫu do dự án Madoguchi biên soạn" in page and "このファイルは Madoguchi プロジェクトが作成したサンプルです" in page
