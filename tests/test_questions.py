"""Example questions (ingest.questions, index.questions): read, indexed as queries, a section feature."""
import json

import numpy as np
import pytest

from index.questions import ExampleVectors
from ingest.loader import collect
from ingest.questions import collect_questions, load_questions, read_questions
from kb import KnowledgeBase
from kb.errors import IngestError
from tests.conftest import JA, VI, write_sources


def lines(*items) -> str:
    return "\n".join(i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items) + "\n"


def test_a_file_is_read_line_by_line_with_comments_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text(lines("# a comment", "", {"section": "1.1.3", "language": "vi", "question": " Mất  thẻ? "}),
                    encoding="utf-8")
    [q] = read_questions(path)
    assert (q.section, q.language, q.text) == ("1.1.3", "vi", "Mất thẻ?")


@pytest.mark.parametrize("line, message", [
    ("{not json", "not a JSON object"),
    ('["1.1.3"]', "not a JSON object"),
    ('{"section": "1.1.3", "language": "vi"}', "needs"),
    ('{"section": "第四条", "language": "ja", "question": "最低賃金は？"}', "section .第四条. is not a guidebook section"),
])
def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "x.questions.jsonl"
    path.write_text(lines({"section": "1.1.3", "language": "ja", "question": "q"}, line), encoding="utf-8")
    with pytest.raises(IngestError, match=rf"x\.questions\.jsonl:2: {message}"):
        read_questions(path)


def test_question_files_are_found_and_are_not_documents(tmp_path):
    src = write_sources(tmp_path / "src", {"ja": JA})
    (src / "questions.jsonl").write_text(lines({"section": "1.1.3", "language": "ja", "question": "a"}), "utf-8")
    (src / "ja" / "extra.questions.jsonl").write_text(
        lines({"section": "1.1.3", "language": "ja", "question": "a"}, {"section": "1.2", "language": "en", "question": "b"}),
        "utf-8")
    assert [p.name for p in collect_questions([src])] == ["extra.questions.jsonl", "questions.jsonl"]
    assert len(load_questions([src])) == 2  # the same (section, question) once
    assert [f.source_id for f in collect([src])] == ["src/ja/01.md"]
    assert collect([src / "questions.jsonl"]) == []  # given directly: still not a document


def test_nearness_is_a_z_score_over_the_sections_nearest_examples():
    vectors = np.eye(3, dtype=np.float32)[[0, 1, 2, 2]]
    examples = ExampleVectors(("1.1", "1.2", "1.3"), np.array([0, 1, 2, 2]), vectors, ("ja",) * 4)
    near = examples.nearness(np.array([0.0, 0.6, 0.8], dtype=np.float32))
    assert max(near, key=near.get) == "1.3" and min(near, key=near.get) == "1.1"
    assert abs(sum(near.values())) < 1e-9
    assert ExampleVectors((), np.zeros(0, np.int32), np.zeros((0, 3), np.float32), ()).nearness(vectors[0]) == {}


def test_each_examples_cosine_is_put_on_its_languages_scale_first():
    """Cosines to the question's own language sit high whatever they ask (.90, .89, .88 here): on
    that language's scale they spread evenly, and the English example that stands out among the
    English ones decides. On raw cosines 1.1 would win."""
    cosines = [(0, "ja", .90), (1, "ja", .89), (2, "ja", .88), (0, "en", .2), (1, "en", .2), (2, "en", .8)]
    dim = len(cosines) + 1
    vectors = np.zeros((len(cosines), dim), dtype=np.float32)
    for i, (_, _, c) in enumerate(cosines):
        vectors[i, 0], vectors[i, i + 1] = c, np.sqrt(1 - c * c)
    examples = ExampleVectors(("1.1", "1.2", "1.3"), np.array([s for s, _, _ in cosines]), vectors,
                              tuple(lang for _, lang, _ in cosines))
    near = examples.nearness(np.eye(dim, dtype=np.float32)[0])
    assert max(near, key=near.get) == "1.3" and min(near, key=near.get) == "1.2"


def test_sync_embeds_the_examples_of_the_indexed_sections_and_they_draw_the_question(tmp_path, fake_embedder):
    """An example question for 1.2 worded like the desk question makes 1.2 the nearer section; an
    example for a section the book lacks is left out; a sync without the file has none."""
    from answer.sections import FEATURES

    src = write_sources(tmp_path / "src", {"ja": JA, "vi": VI})
    asked = "ビザの期限がもうすぐ切れそうで心配です"
    (src / "questions.jsonl").write_text(lines(
        {"section": "1.2", "language": "ja", "question": asked + "。どうすればいいですか"},
        {"section": "1.1.3", "language": "ja", "question": "財布をなくしました"},
        {"section": "9.9.9", "language": "ja", "question": "ない節"}), encoding="utf-8")
    seen: dict[str, int] = {}
    report = KnowledgeBase.sync([src], index=tmp_path / "idx",
                                progress=lambda stage, n, _: seen.__setitem__(stage, seen.get(stage, 0) + n))
    assert report.examples == 2 and seen["embed examples"] == 2
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        version = kb._retriever.version
        assert version.examples.sections == ("1.1.3", "1.2") and len(version.examples) == 2
        assert kb.status().examples == 2 and kb.status().to_dict()["examples"] == 2
        scored = kb._retriever.section_evidence(asked)
        feature = dict(zip(scored.keys, scored.features[:, FEATURES.index("asked")]))
        assert feature["1.2"] > 0 > feature["1.1.3"]
    seen.clear()
    KnowledgeBase.sync([src], index=tmp_path / "idx",
                       progress=lambda stage, n, _: seen.__setitem__(stage, seen.get(stage, 0) + n))
    assert "embed examples" not in seen  # the embedding cache keeps them
    (src / "questions.jsonl").unlink()
    assert KnowledgeBase.sync([src], index=tmp_path / "idx").examples == 0
    with KnowledgeBase.open(tmp_path / "idx") as kb:
        assert len(kb._retriever.version.examples) == 0
        scored = kb._retriever.section_evidence(asked)
        assert not scored.features[:, FEATURES.index("asked")].any()


def test_questions_are_embedded_as_queries_and_cached_apart_from_passages(tmp_path):
    from index.cache import EmbeddingCache, embed_with_cache
    from tests.fakes import FakeEmbedder

    fake, cache = FakeEmbedder(), EmbeddingCache(tmp_path / "cache.sqlite")
    embed_with_cache(fake, ["在留カード"], cache)
    embed_with_cache(fake, ["在留カード"], cache, kind="query")
    assert (fake.passage_calls, fake.query_calls) == (1, 1)  # a passage's vector is no question's
    _, embedded = embed_with_cache(fake, ["在留カード"], cache, kind="query")
    assert embedded == [] and fake.query_calls == 1
    cache.close()


def test_a_malformed_question_file_stops_the_sync_and_keeps_the_live_index(index, tmp_path):
    src = tmp_path / "src"
    (src / "questions.jsonl").write_text("{broken\n", encoding="utf-8")
    with KnowledgeBase.open(index) as kb:
        before = kb._retriever.version.path.name
    with pytest.raises(IngestError, match="questions.jsonl:1"):
        KnowledgeBase.sync([src], index=index)
    with KnowledgeBase.open(index) as kb:
        assert kb._retriever.version.path.name == before
