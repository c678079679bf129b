"""Ingest -> index -> search end to end with the fake embedder (fast); the real model is in test_real_model."""
import json
import sqlite3

import pytest

from index.layout import IndexLayout
from kb import KnowledgeBase
from kb.errors import IndexMismatchError, IndexNotFoundError, IngestError, QueryError

SAMPLE = """+++
title = "テスト文書"
language = "ja"
release = "test-1"
+++

> サンプル：テスト用です。

<!-- page: 3 -->
# 第1章 入国・在留手続

## 1 在留カード

### (3) 紛失
在留カードをなくしたときは、警察に遺失届を出します。14日以内に地方出入国在留管理官署で再交付を申請します。

<!-- page: 92 -->
# 第8章 税金

## 2 住民税
住民税は1月1日に住んでいる市区町村が前の年の所得に対して課税します。
"""


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "guide.md").write_text(SAMPLE, encoding="utf-8")
    (folder / "notes.txt").write_text("第1章 ごみ\n\nごみは朝8時までに出してください。\n", encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return folder


def test_build_search_and_cite(corpus, tmp_path, fake_embedder):
    report = KnowledgeBase.sync([corpus], index=tmp_path / "idx")
    by_id = {s.source_id: s for s in report.sources}
    assert by_id["src/guide.md"].chunks == 2 and by_id["src/notes.txt"].chunks == 1
    assert "src/broken.pdf" in by_id and by_id["src/broken.pdf"].error  # reported, not fatal
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        result = kb.search("在留カードをなくした", k=3)
        top = result.hits[0]
        assert top.chunk.section_id == "1.1.3" and top.keyword_score and top.keyword_score > 0
        c = top.citation
        assert (c.title, c.language, c.release, c.page_label) == ("テスト文書", "ja", "test-1", "3")
        assert c.label() == "テスト文書 [ja, test-1] § 1.1.3 第1章 入国・在留手続 > 1 在留カード > (3) 紛失, p. 3"
        assert set(result.timings_ms) >= {"embed", "dense", "keyword", "fusion", "total"}
        assert json.loads(json.dumps(result.to_dict()))["hits"][0]["citation"]["section_id"] == "1.1.3"
        answer = kb.ask("住民税はどこが課税しますか")
        assert answer.sources[0].chunk.section_id == "8.2"
        assert answer.sentences[0].citations == (1,)
        assert answer.sentences[0].text in answer.sources[0].chunk.text
        status = kb.status()
        assert status.chunks == 3 and status.languages == {"ja": 3}
        assert status.model == "fake/bigram-hash"
        assert status.sentences >= 3 and status.rerank_depth == 20
        assert status.to_dict()["sources"][0]["skipped_pages"] == 0
        disk = status.to_dict()["disk"]  # bytes of this version, of all kept versions, of the cache
        assert 0 < disk["version"] <= disk["versions"] and disk["cache"] > 0


def test_modes_and_query_errors(corpus, tmp_path, fake_embedder):
    KnowledgeBase.sync([corpus], index=tmp_path / "idx")
    kb = KnowledgeBase.open(tmp_path / "idx")
    assert kb.search("住民税", k=1, mode="keyword").hits[0].chunk.section_id == "8.2"
    assert kb.search("住民税", k=1, mode="dense").hits
    assert kb.search("宇宙旅行のビザ", k=2, mode="keyword").hits == ()
    for bad in ("", "   "):
        with pytest.raises(QueryError, match="empty"):
            kb.search(bad)
    with pytest.raises(QueryError, match="limit"):
        kb.search("あ" * 5000)
    with pytest.raises(QueryError, match="k must"):
        kb.search("住民税", k=0)
    with pytest.raises(QueryError, match="mode"):
        kb.search("住民税", mode="magic")


def test_bad_inputs_are_clear_errors(tmp_path, fake_embedder):
    with pytest.raises(IngestError, match="no such file"):
        KnowledgeBase.sync([tmp_path / "missing"], index=tmp_path / "idx")
    empty = tmp_path / "empty.md"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(IngestError, match="nothing to index: .*empty"):
        KnowledgeBase.sync([empty], index=tmp_path / "idx")
    (tmp_path / "dir").mkdir()
    with pytest.raises(IngestError, match="no supported files"):
        KnowledgeBase.sync([tmp_path / "dir"], index=tmp_path / "idx")
    with pytest.raises(IndexNotFoundError, match="kb sync"):
        KnowledgeBase.open(tmp_path / "nowhere")


def test_rebuild_publishes_atomically_and_old_readers_keep_working(corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    KnowledgeBase.sync([corpus], index=root)
    old = KnowledgeBase.open(root)
    first = IndexLayout(root).current()
    (corpus / "guide.md").unlink()
    KnowledgeBase.sync([corpus], index=root)
    second = IndexLayout(root).current()
    assert first != second and not list((root / "staging").iterdir())
    assert old.search("在留カード", k=1).hits[0].chunk.section_id == "1.1.3"  # old version still readable
    with KnowledgeBase.open(root) as new:
        assert new.status().chunks == 1
    old.close()


def test_failed_build_leaves_live_index_untouched(corpus, tmp_path, fake_embedder, monkeypatch):
    root = tmp_path / "idx"
    KnowledgeBase.sync([corpus], index=root)
    live = IndexLayout(root).current()

    def boom(*a, **kw):
        raise RuntimeError("killed mid-embedding")

    monkeypatch.setattr(fake_embedder, "embed_passages", boom)
    (corpus / "notes.txt").write_text("第1章 ごみ\n\n粗大ごみは予約が必要です。\n", encoding="utf-8")  # needs embedding
    with pytest.raises(RuntimeError):
        KnowledgeBase.sync([corpus], index=root)
    assert IndexLayout(root).current() == live
    assert not list((root / "staging").iterdir())
    with KnowledgeBase.open(root) as kb:
        assert kb.status().chunks == 3


def test_index_holds_no_pickles(corpus, tmp_path, fake_embedder):
    KnowledgeBase.sync([corpus], index=tmp_path / "idx")
    version = IndexLayout(tmp_path / "idx").current()
    names = {p.name for p in version.rglob("*") if p.is_file()}
    assert "manifest.json" in names and "chunks.sqlite" in names and "vectors.faiss" in names
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    with sqlite3.connect(version / "chunks.sqlite") as con:
        assert con.execute("SELECT count(*) FROM chunks").fetchone() == (3,)


def test_source_ids_start_at_the_given_folder_and_never_collide(tmp_path, fake_embedder):
    from ingest.loader import collect

    for lang in ("ja", "en"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "01.md").write_text("# 1 x\n本文です。\n", encoding="utf-8")
    ids = [f.source_id for f in collect([tmp_path / "ja", tmp_path / "en"])]
    assert ids == ["en/01.md", "ja/01.md"]
    assert [f.source_id for f in collect([tmp_path / "ja" / "01.md"])] == ["01.md"]
    with pytest.raises(IngestError, match="would both get the source id '01.md'"):
        collect([tmp_path / "ja" / "01.md", tmp_path / "en" / "01.md"])


def test_default_index_is_built_from_the_sample_on_first_use(isolated_home, fake_embedder):
    stages = []
    kb = KnowledgeBase.open(progress=lambda stage, n, total: stages.append(stage))
    status = kb.status()
    assert status.index == str(isolated_home / "index")
    assert {"ja", "en"} <= set(status.languages) and "load" in stages and "embed" in stages
    assert all(s.title for s in status.sources)
    calls = fake_embedder.passage_calls
    KnowledgeBase.open().close()  # second open reuses the published index
    assert fake_embedder.passage_calls == calls
    kb.close()


def test_every_sample_file_is_labelled_as_a_sample():
    from kb.config import SAMPLE_DIR
    from ingest.loader import collect, load

    files = collect([SAMPLE_DIR])
    assert len(files) >= 12
    for f in files:
        doc = load(f)
        assert doc.meta.get("sample") == "True" and doc.meta.get("notice"), f.source_id
        assert doc.release == "sample-2026" and doc.blocks


def test_law_html_hits_cite_the_article(tmp_path, fake_embedder):
    from tests.conftest import shared

    law = shared("corpus", "laws", "326CO0000000319_20250601_505AC0000000028.html")
    KnowledgeBase.sync([law], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        hit = kb.search("新規上陸後の住居地届出 十四日以内", k=3, mode="keyword").hits[0]
        assert hit.chunk.section_id == "第十九条の七"
        assert hit.citation.title == "出入国管理及び難民認定法"
        assert hit.citation.url.startswith("https://laws.e-gov.go.jp/law/326CO0000000319")
        assert "第十九条の七" in hit.citation.label()


def test_pdf_language_and_edition_come_from_the_fetched_file(tmp_path, fake_embedder):
    """`kb fetch` saves <language>.pdf with a fetched.json record: ingestion takes both."""
    from tests import pdfgen

    folder = tmp_path / "official"
    folder.mkdir()
    pdfgen.make_english_guidebook(folder / "en.pdf")
    (folder / "fetched.json").write_text(json.dumps({"en": {
        "title": "Guidebook on Living and Working", "edition": "8th (2026-02)",
        "url": "https://www.moj.go.jp/isa/content/x.pdf", "sha256": "0" * 64}}), encoding="utf-8")
    pdfgen.make_guidebook(folder / "guide_ja-easy.pdf")
    KnowledgeBase.sync([folder], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        sources = {s.source_id: s for s in kb.status().sources}
        en = sources["official/en.pdf"]
        assert (en.language, en.title, en.release) == ("en", "Guidebook on Living and Working", "8th (2026-02)")
        assert sources["official/guide_ja-easy.pdf"].language == "ja-easy"
        hit = kb.search("lose residence card", k=1, languages=["en"]).hits[0]
        assert hit.citation.url == "https://www.moj.go.jp/isa/content/x.pdf"


def test_hybrid_search_is_reranked_and_ask_embeds_no_sentence(corpus, tmp_path, fake_embedder, monkeypatch):
    import answer.retrieve

    KnowledgeBase.sync([corpus], index=tmp_path / "idx")
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        result = kb.search("在留カードをなくした", k=3)
        assert result.reranked and "rerank" in result.timings_ms
        # The order and scores are the re-ranker's: one that reverses the fused order reverses the hits.
        with monkeypatch.context() as patch:
            patch.setattr(answer.retrieve, "rerank",
                          lambda rows, features: [(r, float(i)) for i, r in reversed(list(enumerate(rows)))])
            reversed_hits = kb.search("在留カードをなくした", k=3).hits
        assert len(reversed_hits) == 3 and reversed_hits[0].score == 2.0
        assert reversed_hits[0].chunk.chunk_id != result.hits[0].chunk.chunk_id
        assert not kb.search("在留カードをなくした", k=3, mode="dense").reranked
        before = fake_embedder.passage_calls
        answer = kb.ask("住民税はどこが課税しますか")
        assert answer.sentences and fake_embedder.passage_calls == before  # stored sentence vectors only
    with KnowledgeBase.open(tmp_path / "idx", rerank_depth=0) as kb:
        off = kb.search("在留カードをなくした", k=3)
        assert not off.reranked and "rerank" not in off.timings_ms


def test_the_embedder_is_a_part_the_caller_can_pass(corpus, tmp_path, monkeypatch):
    """No registry, no monkeypatching: the facade takes the embedder as a part."""
    from tests.fakes import FakeEmbedder

    monkeypatch.setenv("KB_ABSTAIN_BELOW", "0")
    monkeypatch.setenv("KB_UNSURE_BELOW", "0")
    fake = FakeEmbedder()
    report = KnowledgeBase.sync([corpus], index=tmp_path / "idx", embedder=fake)
    assert report.embedded == 3 and fake.passage_calls > 0
    with KnowledgeBase.open(tmp_path / "idx", embedder=fake) as kb:
        assert kb.search("在留カード 紛失", k=1).hits[0].chunk.section_id == "1.1.3"
        assert kb.status().model == fake.model_id

    class Other(FakeEmbedder):
        model_id = "another/model"

    with pytest.raises(IndexMismatchError, match="built with model fake/bigram-hash"):
        KnowledgeBase.open(tmp_path / "idx", embedder=Other())


def _make_stale(root):
    """Make the live version at ``root`` look built by an older release (another analyzer)."""
    from index.manifest import MANIFEST

    path = IndexLayout(root).current() / MANIFEST
    data = json.loads(path.read_text(encoding="utf-8"))
    data["analyzer"] = "older-analyzer/1"
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_stale_sample_index_at_the_default_location_is_rebuilt_from_the_sample(fake_embedder, isolated_home,
                                                                                  tmp_path, monkeypatch):
    import kb.facade as facade
    from index.version import ANALYZERS
    from tests.conftest import JA, write_sources

    sample = write_sources(tmp_path / "sample", {"ja": JA.replace('edition = "t"', 'edition = "t"\nsample = true')})
    monkeypatch.setattr(facade, "SAMPLE_DIR", sample)
    KnowledgeBase.open().close()  # first use builds the sample at the default location
    _make_stale(isolated_home / "index")
    kb = KnowledgeBase.open()
    try:
        assert kb.status().analyzer == ANALYZERS
        assert kb.search("在留カードをなくした").hits[0].chunk.section_id == "1.1.3"
    finally:
        kb.close()


def test_a_stale_index_of_other_sources_is_never_replaced_by_the_sample(fake_embedder, isolated_home, tmp_path):
    from tests.conftest import JA, write_sources

    KnowledgeBase.sync([write_sources(tmp_path / "own", {"ja": JA})], index=isolated_home / "index")
    live = IndexLayout(isolated_home / "index").current()
    _make_stale(isolated_home / "index")
    with pytest.raises(IndexMismatchError, match="kb sync"):
        KnowledgeBase.open()
    assert IndexLayout(isolated_home / "index").current() == live
