"""Re-indexing: incremental embedding, atomic publish, one writer, crash safety, rollback, diff."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from index.layout import IndexLayout
from index.lock import IndexLockedError, writer_lock
from kb import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def chapter(n: int, extra: str = "") -> str:
    body = "\n\n".join(f"### ({k}) 項目{k}\n第{n}章の{k}番目の説明です。手続は{k + n}日以内に行います。{extra if k == 1 else ''}"
                       for k in range(1, 6))
    return f"+++\ntitle = \"ガイド\"\nlanguage = \"ja\"\nedition = \"t\"\n+++\n# 第{n}章 章{n}\n## 1 節\n{body}\n"


@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    for n in range(1, 4):
        (folder / f"{n:02d}.md").write_text(chapter(n), encoding="utf-8")
    return folder


def test_only_changed_chunks_are_embedded_and_changes_are_reported(src, tmp_path, fake_embedder):
    first = KnowledgeBase.sync([src], index=tmp_path / "idx")
    sentences = first.changes.chunks.sentences_embedded
    assert first.embedded == first.chunks == 15 and sentences >= 15
    assert fake_embedder.passage_calls == 15 + sentences  # every passage and sentence, once
    (src / "02.md").write_text(chapter(2, extra="新しい規則が加わりました。"), encoding="utf-8")
    second = KnowledgeBase.sync([src], index=tmp_path / "idx")
    # One subsection changed: its passage and the one new sentence; its other sentences are cached.
    assert second.embedded == 1 and fake_embedder.passage_calls == 15 + sentences + 2
    assert second.changes.documents.to_dict() == {"added": [], "changed": ["src/02.md"], "removed": [], "unchanged": 2}
    assert second.changes.chunks.to_dict() == {"added": 1, "removed": 1, "unchanged": 14, "embedded": 1,
                                        "sentences_embedded": 1}
    third = KnowledgeBase.sync([src], index=tmp_path / "idx")
    assert third.embedded == 0 and third.changes.chunks.sentences_embedded == 0
    assert third.changes.documents.unchanged == 3


def test_deleted_document_disappears_from_search(src, tmp_path, fake_embedder):
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    (src / "03.md").unlink()
    report = KnowledgeBase.sync([src], index=tmp_path / "idx")
    assert report.changes.documents.removed == ("src/03.md",)
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        hits = kb.search("第3章の説明", k=20).hits
        assert hits and all(h.chunk.source_id != "src/03.md" for h in hits)


def test_a_second_writer_is_refused(src, tmp_path, fake_embedder):
    with writer_lock(tmp_path / "idx"):
        with pytest.raises(IndexLockedError, match=f"pid {os.getpid()}"):
            KnowledgeBase.sync([src], index=tmp_path / "idx")
        result = runner.invoke(app, ["sync", str(src), "--index", str(tmp_path / "idx")])
        assert result.exit_code == 1 and "another ingest or sync" in result.stderr
    KnowledgeBase.sync([src], index=tmp_path / "idx")  # released: works again


def test_readers_keep_answering_during_a_sync_and_reload(src, tmp_path, fake_embedder):
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    kb = KnowledgeBase.open(tmp_path / "idx", reload_every=0)
    errors, done = [], threading.Event()

    def read():
        while not done.is_set():
            try:
                assert kb.search("手続は何日以内", k=3).hits
            except Exception as exc:  # noqa: BLE001 - any error fails the test below
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    old = kb.version
    for i in range(3):
        (src / "01.md").write_text(chapter(1, extra=f"改訂{i}。"), encoding="utf-8")
        KnowledgeBase.sync([src], index=tmp_path / "idx")
    assert kb.reload() and kb.version != old and not kb.reload()
    done.set()
    for t in readers:
        t.join()
    assert errors == []
    assert any("改訂2" in h.chunk.text for h in kb.search("改訂2", k=5).hits)


def test_rollback_and_diff(src, tmp_path, fake_embedder):
    index = tmp_path / "idx"
    KnowledgeBase.sync([src], index=index)
    first = IndexLayout(index).current().name
    (src / "02.md").write_text(chapter(2, extra="新しい規則が加わりました。"), encoding="utf-8")
    (src / "04.md").write_text(chapter(4), encoding="utf-8")
    KnowledgeBase.sync([src], index=index)
    result = runner.invoke(app, ["diff", "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [c["section"] for c in data["changed"]] == ["2.1.1"]
    assert any("+" in line and "新しい規則" in line for line in data["changed"][0]["diff"])
    assert {a["section"] for a in data["added"]} == {f"4.1.{k}" for k in range(1, 6)}
    result = runner.invoke(app, ["rollback", "--index", str(index)])
    assert result.exit_code == 0 and first in result.stdout
    assert IndexLayout(index).current().name == first
    with KnowledgeBase.open(index) as kb:
        assert all(h.chunk.source_id != "src/04.md" for h in kb.search("第4章", k=20).hits)


KILL_SCRIPT = """
import sys, time
from pathlib import Path
import index.layout
from tests.fakes import FakeEmbedder
from index.embed import ModelSpec, register_model
from kb import KnowledgeBase

stage, src, idx, marker = sys.argv[1:5]
fake = FakeEmbedder()
fake.batch_size = 2  # small batches: the kill lands between cache commits
embed = fake.embed_passages
def slow_embed(texts, progress=None):
    out = embed(texts)
    Path(marker).write_text("embedding")
    time.sleep(0.3)  # killed somewhere in here
    return out
fake.embed_passages = slow_embed
register_model("fake", ModelSpec(identity=lambda: fake.model_id, factory=lambda threads, batch: fake))
if stage == "publish":
    real_point_to = index.layout.IndexLayout.point_to
    def stalled(self, version):
        Path(marker).write_text("publishing")
        time.sleep(30)  # killed after the new version folder is in place, before CURRENT moves
        real_point_to(self, version)
    index.layout.IndexLayout.point_to = stalled
KnowledgeBase.sync([src], index=idx, batch_size=2, model="fake")
"""


@pytest.mark.parametrize("stage", ["embed", "publish"])
def test_sync_killed_with_sigkill_leaves_the_live_index_and_the_next_sync_finishes(stage, src, tmp_path, fake_embedder,
                                                                                 monkeypatch):
    index = tmp_path / "idx"
    first = KnowledgeBase.sync([src], index=index)
    live = IndexLayout(index).current()
    for n in range(4, 12):  # enough new passages that the kill lands mid-embedding
        (src / f"{n:02d}.md").write_text(chapter(n), encoding="utf-8")
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, stage, str(src), str(index), str(marker)],
                            cwd=ROOT, env=env)
    deadline = time.time() + 60
    while not (marker.exists() and marker.read_text() == ("publishing" if stage == "publish" else "embedding")):
        assert time.time() < deadline and proc.poll() is None, "the sync never reached the stage"
        time.sleep(0.05)
    if stage == "embed":
        time.sleep(0.5)  # let a few batches reach the cache
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert IndexLayout(index).current() == live  # the pointer never moved
    with KnowledgeBase.open(index) as kb:
        assert kb.status().chunks == 15 and kb.search("手続", k=3).hits
    report = KnowledgeBase.sync([src], index=index)  # takes the lock the dead process held
    assert report.chunks == 55 and not list((index / "staging").iterdir())
    texts = report.embedded + report.sentences_embedded
    if stage == "embed":  # resumed: some of the new chapters' passages and sentences were already cached
        everything = KnowledgeBase.sync([src], index=tmp_path / "fresh")
        new = everything.embedded + everything.sentences_embedded - first.embedded - first.sentences_embedded
        assert 0 < texts < new
    else:
        assert texts == 0  # everything was embedded before the kill
    with KnowledgeBase.open(index) as kb:
        assert kb.status().chunks == 55


def test_search_and_ask_pick_up_a_new_version_by_themselves(src, tmp_path, fake_embedder):
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    kb = KnowledgeBase.open(tmp_path / "idx", reload_every=0.01)
    first = kb.version
    (src / "04.md").write_text(chapter(4), encoding="utf-8")
    KnowledgeBase.sync([src], index=tmp_path / "idx")
    time.sleep(0.05)
    kb.search("第4章", k=1)
    assert kb.version != first
    # A broken newer version is not taken: the current one keeps answering.
    broken = IndexLayout(tmp_path / "idx").versions / "v999999-broken"
    broken.mkdir()
    IndexLayout(tmp_path / "idx").point_to(broken)
    time.sleep(0.05)
    assert kb.ask("手続は何日以内").sources and kb.version != "v999999-broken"


def test_an_index_of_an_older_format_is_refused_then_rebuilt_in_place(src, tmp_path, fake_embedder, monkeypatch):
    import json

    from index.embed import MODELS, register_model
    from index.layout import IndexLayout
    from kb.errors import IndexMismatchError

    KnowledgeBase.sync([src], index=tmp_path / "idx")
    register_model("kept-model", MODELS["fake"])  # the same vectors under the name the manifest keeps
    monkeypatch.delenv("KB_MODEL")  # no model setting: a rebuild keeps the index's own
    manifest = IndexLayout(tmp_path / "idx").current() / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "format": data["format"] - 1, "model": "kept-model"}))
    with pytest.raises(IndexMismatchError, match="rebuild"):
        KnowledgeBase.open(tmp_path / "idx")
    report = KnowledgeBase.sync([src], index=tmp_path / "idx")  # the fix the error names works in place
    assert report.embedded == 0  # the cache still holds every vector
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        assert kb.status().model == fake_embedder.model_id and kb.search("第1章", k=1).hits
    assert json.loads((IndexLayout(tmp_path / "idx").current() / "manifest.json").read_text())["model"] == "kept-model"
    register_model("kept-model", None)


def test_the_lexicon_is_learned_from_mutually_best_sentence_pairs():
    """index.lexicon on hand-made sentence vectors: a sentence and its translation are each other's
    nearest; words seen together in two pairs point to each other's lemmas."""
    import numpy as np

    from index.lexicon import induce, sentence_pairs
    from kb.model import Chunk

    ja = ["在留カードを警察に届けます。", "年金に加入します。", "在留カードを返します。"]
    vi = ["Báo cảnh sát về thẻ cư trú.", "Tham gia lương hưu.", "Trả lại thẻ cư trú."]
    chunks, spans, offsets, vectors = [], [], [0], []
    for lang, texts in (("ja", ja), ("vi", vi)):
        for i, text in enumerate(texts):
            chunks.append(Chunk(f"{lang}{i}", f"{lang}/01.md", "t", lang, "r", text, ("s",), "1.1", char_start=100 * i,
                                char_end=100 * i + len(text)))
            spans.append((0, len(text)))
            offsets.append(len(spans))
            vectors.append(np.eye(3, dtype=np.float32)[i])
    pairs = sentence_pairs(chunks, np.array(spans), np.array(offsets), np.array(vectors))
    assert sorted(pairs["vi"], key=lambda p: p[0]) == sorted(zip(vi, ja), key=lambda p: p[0])
    found = induce(pairs["vi"])
    assert {"在留", "カード"} <= {lemma for lemma, _ in found["thẻ"]}
    assert "cảnh" not in found  # seen in one pair only
    # a two-syllable word is translated as a whole, not only syllable by syllable
    assert "在留" in {lemma for lemma, _ in found["cư trú"]}


def test_lexicon_words_pair_adjacent_words_except_in_bigram_scripts() -> None:
    from index.lexicon import words_of

    assert words_of("thẻ cư trú", "vi") == ["thẻ", "cư", "trú", "thẻ cư", "cư trú"]
    assert " " not in "".join(words_of("我的在留卡丢了", "zh-Hans"))  # already character bigrams


