import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- Japanese readings ------------------------------------------------------------------------

def _readings(text: str) -> set[str]:
    """The katakana reading n-grams among the tokens (lemmas of kana words may be katakana too)."""
    return {t for t in tokenize(text) if all("\u30a1" <= c <= "\u30ff" for c in t)}


@pytest.mark.parametrize("kana, kanji", [
    ("ひっこし", "引っ越しをする"),  # unidic reads the kana as the verb 引っ越す, the kanji as a noun
    ("ざいりゅう", "在留カードを"),  # and cuts ざいりゅう into 際 + 竜
    ("てつづき", "手続きをする"),
    ("びょういん", "病院に行く"),
    ("ぜいきん", "税金を払う"),      # tagged as four kana "symbols"
])
def test_kana_spelling_shares_reading_tokens_with_kanji(kana, kanji):
    assert _readings(kana) & _readings(kanji)


def test_han_only_text_gets_no_readings():
    # Han-only text may be Chinese: it gets lemmas and bigrams; Japanese documents always have kana
    assert _readings("在留") == set() and _readings("在留カード") != set()


def test_readings_of_particles_and_punctuation_are_dropped():
    assert tokenize("の") == [] and tokenize("ですか？") == []
    tokens = tokenize("在留カードを")
    assert not any("ヲ" in t for t in tokens)  # を breaks the reading stream instead of joining it


def test_all_kana_questions_find_the_kanji_documents():
    docs = ["引っ越しをしたときは、14日以内に市役所で転入届を出してください。",
            "在留カードを紛失したときは、警察に届け出て再交付を申請します。",
            "急な病気のときは、近くの病院の救急外来を受診します。",
            "住民税や所得税などの税金は、期限までに納付します。",
            "ごみは決められた曜日の朝に、指定の場所に出します。"]
    index = KeywordIndex.build(docs)
    for query, want in [("ひっこしを　したら", 0), ("ざいりゅうかーどを なくしました", 1),
                        ("びょういんに いきたい", 2), ("ぜいきんを はらいたい", 3)]:
        rows, scores = index.search(query, 5)
        assert rows.size and rows[0] == want and scores[0] > 0, query


# --- Chinese and Han-only text ----------------------------------------------------------------

def test_chinese_gets_character_bigrams_and_single_characters():
    tokens = tokenize("我的在留卡丢了怎么办")
    assert {"在留", "留卡", "卡丢", "丢了", "怎么", "么办"} <= set(tokens)
    assert "卡" in tokenize("在留 卡")  # a one-character run is its own token


def test_han_only_japanese_keeps_lemmas_and_japanese_text_gets_no_bigrams():
    assert {"国民", "健康", "保険", "加入"} <= set(tokenize("国民健康保険 加入"))
    assert "留カ" not in tokenize("在留カードを紛失した") and "紛失" in tokenize("在留カードを紛失した")
    assert "失し" not in tokenize("在留カードを紛失した")


def test_chinese_page_quoting_japanese_terms_is_tokenised_as_chinese():
    text = "在留卡（在留カード）是发给在日本居留超过3个月的中长期在留者的身份证明文件。"
    tokens = tokenize(text)
    assert {"留卡", "居留", "证明"} <= set(tokens)  # bigrams: the page is Chinese
    assert "カード" in tokens  # the quoted Japanese term still matches Japanese queries


# --- scripts with spaces, marks, and without spaces -------------------------------------------

def test_combining_marks_stay_inside_words():
    assert tokenize("नेपाली भाषा") == ["नेपाली", "भाषा"]  # vowel signs (Mn/Mc) are not \w
    assert tokenize("मेरो निवास कार्ड हरायो।") == ["मेरो", "निवास", "कार्ड", "हरायो"]  # virama, danda
    assert tokenize("Tiếng Việt") == tokenize("Tie\u0302\u0301ng Vie\u0323\u0302t") == ["tiếng", "việt"]
    assert tokenize("İkamet kartımı") == ["ikamet", "kartımı"]  # "İ".lower() would add a dot mark
    assert tokenize("Я загубив посвідку") == ["я", "загубив", "посвідку"]


def test_scripts_without_spaces_give_cluster_bigrams():
    assert tokenize("ภาษาไทย") == ["ภา", "าษ", "ษา", "าไ", "ไท", "ทย"]
    assert tokenize("မြန်မာ") == ["မြန်", "န်မာ"]  # a letter keeps its marks
    assert tokenize("ខ្មែរ") == ["ខ្មែ", "មែរ"]
    assert tokenize("ก") == ["ก"]


def test_hangul_gives_syllable_bigrams_per_word():
    assert tokenize("재류카드를 잃어버렸어요") == ["재류", "류카", "카드", "드를", "잃어", "어버", "버렸", "렸어", "어요"]


def test_mixed_text_is_split_into_script_runs():
    tokens = tokenize("I lost my 在留カード yesterday, नेपाली ภาษา 카드")
    assert tokens[:3] == ["i", "lost", "my"]
    assert {"在留", "カード", "yesterday", "नेपाली", "ภา", "카드"} <= set(tokens)
    assert tokenize("Wi-Fiを使う")[:2] == ["wi", "fi"]


_ALPHABETS = "abcxyzéñçãơưđâêôïабвгдіїєґөүअकखगनपलभषािीुेैो्ภาษไทยกខ្មែរមြန်မာ한국어카드"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_ALPHABETS + " .,!?-\u200b0123456789", max_size=40))
def test_text_with_letters_never_tokenises_to_nothing(text):
    tokens = tokenize(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    if any(c.isalpha() for c in text):
        assert tokens


# --- one query per script against a multilingual index ----------------------------------------

# (language, "residence card lost" document, "garbage" document, query about the lost card)
_EDITIONS = [
    ("ja", "在留カードを紛失したときは、警察に届け出て、14日以内に再交付を申請してください。",
     "ごみは決められた日に出してください。", "在留カードをなくしました"),
    ("ja-easy", "在留カードを紛失したときは、警察に届け出て、14日以内に再交付を申請してください。",
     "ごみは決められた日に出してください。", "ざいりゅうかーどを なくしました"),
    ("zh-Hans", "在留卡丢失时，请向警察报案，并在14天内申请补发。", "垃圾必须在规定的日子扔。", "我的在留卡丢了怎么办"),
    ("en", "If you lose your residence card, report it to the police and apply for a reissue within 14 days.",
     "Put out garbage only on the designated collection days.", "I lost my residence card"),
    ("vi", "Nếu bị mất thẻ cư trú, hãy báo cảnh sát và xin cấp lại trong vòng 14 ngày.",
     "Rác phải được bỏ vào ngày quy định.", "Tôi bị mất thẻ cư trú"),
    ("pt", "Se perder o cartão de residência, avise a polícia e peça a reemissão em até 14 dias.",
     "O lixo deve ser colocado nos dias determinados.", "Perdi o cartão de residência"),
    ("es", "Si pierde la tarjeta de residencia, avise a la policía y solicite la reexpedición en 14 días.",
     "La basura se debe sacar en los días establecidos.", "Perdí mi tarjeta de residencia"),
    ("tl", "Kapag nawala ang residence card, ipaalam sa pulis at mag-apply ng muling pag-isyu "
           "sa loob ng 14 na araw.",
     "Itapon ang basura sa mga itinakdang araw lamang.", "Nawala ang aking residence card"),
    ("id", "Jika kartu izin tinggal hilang, laporkan ke polisi dan ajukan penerbitan ulang dalam 14 hari.",
     "Sampah harus dibuang pada hari yang telah ditentukan.", "Kartu izin tinggal saya hilang"),
    ("tr", "İkamet kartınızı kaybederseniz polise bildirin ve 14 gün içinde yeniden başvurun.",
     "Çöpler belirlenen günlerde çıkarılmalıdır.", "ikamet kartımı kaybettim"),
    ("uk", "Якщо ви загубили посвідку на проживання, повідомте поліцію протягом 14 днів.",
     "Сміття потрібно виносити у визначені дні.", "Я загубив посвідку на проживання"),
    ("mn", "Оршин суух үнэмлэхээ гээсэн бол цагдаад мэдэгдэж, 14 хоногийн дотор дахин олгуулах "
           "хүсэлт гаргана уу.",
     "Хог хаягдлыг тогтоосон өдөр гаргана.", "Оршин суух үнэмлэх гээсэн"),
    ("ne", "निवास कार्ड हराएमा प्रहरीलाई खबर गर्नुहोस् र १४ दिनभित्र पुनः जारीका लागि आवेदन दिनुहोस्।",
     "फोहोर तोकिएको दिनमा मात्र फाल्नुहोस्।", "मेरो निवास कार्ड हरायो"),
    ("th", "หากทำบัตรผู้พำนักหาย ให้แจ้งตำรวจและยื่นขอออกบัตรใหม่ภายใน 14 วัน",
     "ต้องทิ้งขยะในวันที่กำหนด", "บัตรผู้พำนักของฉันหายไป ต้องทำอย่างไร"),
    ("ko", "재류카드를 잃어버린 경우 경찰에 신고하고 14일 이내에 재교부를 신청하십시오.",
     "쓰레기는 정해진 날에 내놓아야 합니다.", "재류카드를 분실했어요"),
    ("my", "နေထိုင်ခွင့်ကတ် ပျောက်ဆုံးပါက ရဲစခန်းသို့ အကြောင်းကြားပြီး "
           "၁၄ ရက်အတွင်း ပြန်လည်ထုတ်ပေးရန် လျှောက်ထားပါ။",
     "အမှိုက်ကို သတ်မှတ်ထားသော နေ့တွင် စွန့်ပစ်ရပါမည်။", "ကျွန်တော့် နေထိုင်ခွင့်ကတ် ပျောက်သွားတယ်"),
    ("km", "ប្រសិនបើបាត់ប័ណ្ណស្នាក់នៅ សូមរាយការណ៍ទៅប៉ូលីស ហើយដាក់ពាក្យសុំចេញថ្មីក្នុងរយៈពេល ១៤ ថ្ងៃ។",
     "ត្រូវចោលសំរាមនៅថ្ងៃដែលបានកំណត់។", "ខ្ញុំបាត់ប័ណ្ណស្នាក់នៅ តើត្រូវធ្វើអ្វី"),
]
_DOCS = [doc for lang, card, garbage, _ in _EDITIONS if lang != "ja-easy" for doc in (card, garbage)]


@pytest.fixture(scope="module")
def multilingual_index() -> KeywordIndex:
    return KeywordIndex.build(_DOCS)


@pytest.mark.parametrize("lang, card, garbage, query", _EDITIONS, ids=[e[0] for e in _EDITIONS])
def test_query_finds_its_language_and_topic_in_a_multilingual_index(multilingual_index, lang, card,
                                                                      garbage, query):
    rows, scores = multilingual_index.search(query, 5)
    assert rows.size and scores[0] > 0, query
    assert _DOCS[rows[0]] == card, (query, _DOCS[rows[0]])


def test_cjk_bigrams_leg():
    from index.tokenize import cjk_bigrams

    assert cjk_bigrams("在留カード、14日 以内") == ["在留", "留カ", "カー", "ード", "14", "日", "以内"]
    assert cjk_bigrams("Residence card") == ["residence", "card"]
    index = KeywordIndex.build(["在留カードの再交付", "ごみの出し方"], "bigram")
    rows, scores = index.search("カードを再交付", 2)
    assert rows[0] == 0 and scores[0] > 0


def test_bm25s_numpy_arrays_equal_scipys():
    """index.keyword imports bm25s without scipy (cold-start time); bm25s then builds its CSC arrays
    with numpy. They must equal the scipy build, or indexes would depend on import order. Run in a
    fresh process: this one may already hold the scipy-free bm25s."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import bm25s, numpy as np
from index.tokenize import tokenize
texts = ["在留カードをなくしたら再交付を申請します", "引っ越しをしたら14日以内に届け出ます",
         "国民健康保険に加入する手続", "カードの更新は期間満了前に行います", "ごみは決められた日に出します"] * 3
tokens = [tokenize(t + str(i)) for i, t in enumerate(texts)]
built = {}
for backend in ("scipy", "numpy"):
    built[backend] = bm25s.BM25(k1=1.5, b=0.75, csc_backend=backend)
    built[backend].index(tokens, show_progress=False)
a, b = built["scipy"], built["numpy"]
assert a.vocab_dict == b.vocab_dict
print(all(np.array_equal(a.scores[k], b.scores[k]) for k in ("data", "indices", "indptr")))
"""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_keyword_index_loads_without_importing_scipy(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    KeywordIndex.build(["在留カードをなくした", "引っ越しをした"]).save(tmp_path)
    code = ("import sys\nfrom pathlib import Path\nfrom index.keyword import KeywordIndex\n"
            f"k = KeywordIndex.load(Path({str(tmp_path)!r}), 2)\n"
            "assert k.search('在留カード', 2)[0].tolist() == [0]\n"
            "print('scipy' in sys.modules)\n")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_cached_tokens_are_reused_and_equal_fresh_ones(tmp_path, monkeypatch):
    import index.keyword as keyword
    from index.cache import EmbeddingCache

    texts = ["在留カードをなくした", "引っ越しをした", "", "在留カードをなくした"]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    try:
        first = KeywordIndex.build(texts, cache=cache)
        calls = []
        real = keyword.ANALYZERS["lemma"]
        monkeypatch.setitem(keyword.ANALYZERS, "lemma", lambda t, **kw: calls.append(t) or real(t, **kw))
        second = KeywordIndex.build(texts + ["ごみの出し方"], cache=cache)
        assert calls == ["ごみの出し方"]  # only the new text is tokenised
        plain_first, plain_second = KeywordIndex.build(texts), KeywordIndex.build(texts + ["ごみの出し方"])
        for query in ("在留カード", "引っ越し", "ごみ"):
            for cached, plain in ((first, plain_first), (second, plain_second)):
                rows, scores = cached.search(query, 5)
                expected_rows, expected_scores = plain.search(query, 5)
                assert rows.tolist() == expected_rows.tolist() and np.allclose(scores, expected_scores)
    finally:
        cache.close()


def test_text_coverage_memo_is_bounded_and_does_not_change_the_score(monkeypatch):
    import index.keyword as keyword
    monkeypatch.setattr(keyword, "TEXT_MEMO", 2)
    index = KeywordIndex.build(["在留カードの再交付", "ごみの出し方", "国民健康保険の加入"])
    tokens = tokenize("在留カードをなくした")
    texts = ["在留カードを再交付します", "ごみは朝に出します", "保険に加入します"]
    first = [index.text_coverage(tokens, t) for t in texts]
    assert len(index._text_tokens) <= 2
    fresh = KeywordIndex.build(["在留カードの再交付", "ごみの出し方", "国民健康保険の加入"])
    assert first == [fresh.text_coverage(tokens, t) for t in texts]
    assert index.text_coverage(tokens, texts[0]) == first[0] > 0


def test_a_noun_made_from_a_verb_also_gives_the_verb_so_it_meets_the_verb():
    # unidic keeps 引越し (noun, lemma 引っ越し) apart from 引っ越した (verb, lemma 引っ越す)
    assert "引っ越す" in tokenize("引越しをしました", query=True)
    assert "引っ越す" in tokenize("別の市区町村から引っ越してきたときは")
    assert {"申し込む", "支払う", "届ける"} <= set(tokenize("申し込みと支払いと届け"))
    assert tokenize("手続きをする") == tokenize("手続きをする")  # no verb 手続く: nothing added
    assert "手続く" not in tokenize("手続きをする")
    index = KeywordIndex.build(["別の市区町村から引っ越してきたときは、14日以内に転入届を出します。", "ごみの出し方"])
    rows, scores = index.search("引越しをしました", 2)
    assert rows[0] == 0 and scores[0] > 0


def test_readings_are_voiceless_so_a_voiced_compound_meets_its_parts():
    # unidic reads 避難所 as 避難 + 所 (ヒナン + ショ); a resident writes ひなんじょ
    query = set(tokenize("ひなんじょは どこですか", query=True))
    assert {"ナンシ", "ンショ"} <= query and {"ナンシ", "ンショ"} <= set(tokenize("避難所に行きます"))
    index = KeywordIndex.build(["地震のときは近くの避難所に行きます。", "ごみは朝に出します。"])
    rows, scores = index.search("ひなんじょは どこですか", 2)
    assert rows[0] == 0 and scores[0] > 0
