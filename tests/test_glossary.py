"""The hand-written glossary into Japanese: how phrases match, and that the shipped files are sound."""
from __future__ import annotations

import json

import pytest

from answer.glossary import FOLDER, Glossary


@pytest.fixture()
def small(tmp_path):
    lines = [
        {"ja": "在留カード", "ja_alt": ["ざいりゅうカード"], "ja-easy": [], "en": ["residence card"],
         "ko": ["재류카드"], "zh-Hans": ["在留卡"], "es": ["tarjeta de residencia"]},
        {"ja": "避難所", "ja_alt": [], "ja-easy": ["にげる ところ"], "en": ["evacuation center", "shelter"]},
        {"ja": "年金", "en": ["x"]},  # a one-letter phrase is never used
        {"ja": "110番", "en": ["110"], "zh-Hans": ["110"]},
    ]
    (tmp_path / "terms.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    return Glossary(tmp_path)


def test_a_phrase_must_start_a_word_where_words_are_spaced(small):
    assert small.japanese_terms("I lost my Residence Cards yesterday", "en") == ["在留カード"]  # case, plural
    assert small.japanese_terms("Where is the nearest shelter?", "en") == ["避難所"]
    assert small.japanese_terms("a preresidence card", "en") == []  # inside a word: no
    assert small.japanese_terms("He perdido mi tarjeta  de residencia", "es") == ["在留カード"]  # spaces normalised
    assert small.japanese_terms("재류카드를 잃어버렸어요", "ko") == ["在留カード"]  # a particle may follow


def test_a_number_matches_only_as_a_whole_number(small):
    assert small.japanese_terms("Should I call 110 or the embassy?", "en") == ["110番"]
    assert small.japanese_terms("I paid 1100 yen, not 2110", "en") == []
    assert small.japanese_terms("打110报警", "zh-Hans") == ["110番"]
    assert small.japanese_terms("付了1100日元", "zh-Hans") == []


def test_unspaced_scripts_and_japanese_match_anywhere(small):
    assert small.japanese_terms("我的在留卡丢了", "zh-Hans") == ["在留カード"]
    assert small.japanese_terms("じしんの とき にげる ところは どこ", "ja-easy") == ["避難所"]
    assert small.japanese_terms("ざいりゅうカードをなくしました", "ja") == ["在留カード"]


def test_lemmas_are_the_japanese_terms_tokens_and_unknown_languages_get_nothing(small):
    assert small.lemmas("lost my residence card", "en") == ["在留", "カード"]
    assert small.lemmas("x x x", "en") == []
    assert small.lemmas("j'ai perdu ma carte de séjour", "fr") == []


def test_the_shipped_glossary_is_well_formed():
    files = sorted(FOLDER.glob("*.jsonl"))
    assert files, "answer/glossary/ has no files"
    seen = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            assert entry["ja"] not in seen, entry["ja"]
            seen.add(entry["ja"])
            assert all(isinstance(v, list) for k, v in entry.items() if k != "ja"), entry["ja"]
    glossary = Glossary()
    assert "在留カード" in glossary.japanese_terms("I lost my residence card", "en")


def test_the_bridge_carries_glossary_terms_for_a_language_without_a_lexicon(small, monkeypatch):
    from types import SimpleNamespace

    import numpy as np

    from answer import bridge, glossary
    from answer.legs import Query

    monkeypatch.setattr(glossary, "default", lambda: small)
    version = SimpleNamespace(lexicon={"vi": {"thẻ": [("カード", 0.5)]}})  # no Spanish edition, no Spanish lexicon
    spanish = Query("perdí mi tarjeta de residencia", [], np.zeros(4), "es")
    assert bridge.translate(version, spanish) == {"在留": 1.0, "カード": 1.0}
    vietnamese = Query("mất thẻ", [], np.zeros(4), "vi")
    assert bridge.translate(version, vietnamese) == {"カード": 0.5}  # the induced lexicon, as before


def test_the_japanese_edition_reads_a_foreign_question_in_its_glossary_terms(small, monkeypatch):
    import numpy as np

    from answer import glossary
    from answer.legs import Query
    from answer.retrieve import HybridRetriever

    monkeypatch.setattr(glossary, "default", lambda: small)
    from types import SimpleNamespace

    from answer.legs import full_scores

    embedded = []  # what the Japanese pivot vector is embedded from

    def embed_queries(texts):
        embedded.extend(texts)
        return np.array([[0.0, 2.0, 0.0, 0.0]] * len(texts))

    retriever = object.__new__(HybridRetriever)  # the method reads only the query, the glossary, the embedder
    retriever.embedder = SimpleNamespace(embed_queries=embed_queries)
    retriever._term_vectors = {}
    memo = {}
    spanish = Query("perdí mi tarjeta de residencia", ["perdí", "tarjeta"], np.array([1.0, 0.0, 0.0, 0.0]), "es", memo)
    seen = retriever._in_edition_words(spanish, "ja")
    assert seen.tokens == ["在留", "カード"]
    assert embedded == ["在留カード"]  # the Japanese term itself, embedded as a query
    assert np.allclose(seen.vector, np.array([1.0, 1.0, 0.0, 0.0]) / np.sqrt(2))  # the two averaged, normalised
    assert seen.memo is memo  # one memo per question
    assert retriever._in_edition_words(spanish, "ja").vector is seen.vector and len(embedded) == 1  # once per query
    again = Query("tarjeta de residencia", ["tarjeta"], np.array([1.0, 0.0, 0.0, 0.0]), "es", {})
    retriever._in_edition_words(again, "ja")
    assert len(embedded) == 1  # a term is embedded once per process, whichever question names it
    index = SimpleNamespace(scores=lambda tokens: np.full(3, float(len("".join(tokens)))))
    assert full_scores(spanish, "keyword", index)[0] == len("perdítarjeta")
    assert full_scores(seen, "keyword", index)[0] == len("在留カード")  # its own BM25, not the question's
    assert full_scores(spanish, "keyword", index)[0] == len("perdítarjeta")
    assert retriever._in_edition_words(spanish, "en") is spanish  # another edition: the question's own words
    japanese = Query("ざいりゅうカードをなくした", ["在留"], np.zeros(4), "ja", {})
    assert retriever._in_edition_words(japanese, "ja") is japanese
    unknown = Query("quelque chose d'autre", ["chose"], np.zeros(4), "fr", {})
    assert retriever._in_edition_words(unknown, "ja") is unknown  # nothing the glossary knows
