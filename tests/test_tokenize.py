from index.keyword import KeywordIndex
from index.tokenize import tokenize


def test_japanese_tokens_are_dictionary_forms_without_punctuation():
    tokens = tokenize("在留カードを紛失しました。どうすれば？")
    assert "在留" in tokens and "カード" in tokens and "紛失" in tokens
    assert "為る" in tokens and "を" not in tokens  # しました -> する; particles dropped
    assert not any(t in tokens for t in ("。", "？", "?"))


def test_full_width_is_normalised_and_latin_lower_cased():
    assert tokenize("ＦＲＥＳＣ　０５７０") == tokenize("fresc 0570") == ["fresc", "0570"]


def test_other_scripts_give_words():
    assert tokenize("I lost my Residence Card") == ["i", "lost", "my", "residence", "card"]
    assert tokenize("Tôi bị mất thẻ") == ["tôi", "bị", "mất", "thẻ"]  # tone marks kept
    assert tokenize("") == [] and tokenize("。！") == []


def test_keyword_index_scores_japanese_and_round_trips_without_pickle(tmp_path):
    texts = ["在留カードを紛失したときは警察に届けます。", "ごみは決められた日に出します。", "転入届は14日以内です。"]
    index = KeywordIndex.build(texts)
    rows, scores = index.search("カードをなくして紛失届", 3)
    assert rows[0] == 0 and scores[0] > 0
    index.save(tmp_path / "kw")
    assert not list((tmp_path / "kw").glob("*.pkl"))
    again = KeywordIndex.load(tmp_path / "kw", 3)
    rows2, scores2 = again.search("カードをなくして紛失届", 3)
    assert rows2.tolist() == rows.tolist() and scores2.tolist() == scores.tolist()
    assert again.search("宇宙旅行", 3)[0].size == 0
