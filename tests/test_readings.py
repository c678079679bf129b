"""index.readings: kana readings of the guidebook's words, and easy-Japanese questions read in kanji."""
import pytest

from index import readings
from index.readings import KanaReader, build, looks_easy
from kb.errors import IndexMismatchError
from kb.model import Chunk


def chunk(text: str, language: str = "ja", section: str | None = "10.3.2", n: int = 0) -> Chunk:
    return Chunk(f"{language}{n}", f"{language}/10.md", "t", language, "r", text, ("s",), section)


@pytest.fixture(scope="module")
def table():
    return build([
        chunk("指定避難所は、国籍や在留資格に関係なく利用できます。避難所では食料が配られます。"),
        chunk("住民税は市区町村に納めます。住民税の納付書が届きます。", n=1),
        chunk("年金の脱退一時金を請求できます。", n=2),
        chunk("避難所（ひなんじょ）に 行きます。国籍（こくせき）は 関係 ありません。駅（えき）の 近く です。", "ja-easy", "10.3.2", 3),
        chunk("自動車税を納めます。", section="第三条", n=4),  # a statute article: not the guidebook's words
        chunk("消費税の説明です。", "en", n=5),  # another edition
    ])


def test_readings_come_from_the_japanese_editions_numbered_sections(table):
    assert table["ジュウミンゼイ"] == ("住民税", False)  # unidic's reading of a run of morphemes
    assert table["ヒナンジョ"] == ("避難所", True)  # the easy-Japanese edition's furigana
    assert table["コクセキ"] == ("国籍", True) and table["エキ"] == ("駅", True)
    assert "ジドウシャゼイ" not in table and "ショウヒゼイ" not in table


def test_an_easy_japanese_question_is_read_in_kanji(table):
    reader = KanaReader(table)
    assert reader.to_kanji("じゅうみんぜいは いつ はらいますか") == "住民税は いつ はらいますか"
    assert reader.to_kanji("ひなんじょに がいこくじんも いけますか") == "避難所に がいこくじんも いけますか"
    assert reader.to_kanji("こくせきは かんけい ありますか") == "国籍は 関係 ありますか"
    assert reader.to_kanji("えきに いきます") == "駅に いきます"  # two kana, but the edition's own furigana


def test_only_long_readings_unless_the_edition_gives_them(table):
    """Short unidic readings are homophones (いたく: 委託, 痛く): three kana are not enough."""
    reader = KanaReader({"イタク": ("委託", False), "ネンキン": ("年金", False)})
    assert reader.to_kanji("すごく いたく なりました") == "すごく いたく なりました"
    assert reader.to_kanji("ねんきんの おかね") == "年金の おかね"


def test_a_compounds_voiced_part_matches_but_not_a_voiced_first_kana():
    """unidic reads 避難 + 所 as ヒナンショ; speech says ひなんじょ. Compounding never voices the first kana."""
    reader = KanaReader({"ヒナンショ": ("避難所", False), "サンギョウ": ("産業", False)})
    assert reader.to_kanji("ひなんじょに いきます") == "避難所に いきます"
    assert reader.to_kanji("ざんぎょうが おおい です") == "ざんぎょうが おおい です"


def test_ordinary_japanese_is_left_alone(table):
    reader = KanaReader({**table, "シタイ": ("死体", True)})
    assert reader.to_kanji("保育施設を利用したいのですが、どこに申し込めばいいですか") == \
        "保育施設を利用したいのですが、どこに申し込めばいいですか"  # not spaced, kanji: not easy Japanese
    assert reader.to_kanji("I lost my residence card") == "I lost my residence card"
    # inside a word: only a kana word that starts a phrase is read
    assert reader.to_kanji("りようしたい です") == "りようしたい です"


def test_looks_easy():
    assert looks_easy("ざいりゅうカードを　なくしました。どうしたら　いいですか")  # full-width spaces
    assert looks_easy("しごと で けが を しました。")
    assert not looks_easy("在留カードをなくしました")
    assert not looks_easy("在留 カード 紛失 手続")  # spaced but kanji
    assert not looks_easy("Tôi bị mất thẻ cư trú")


def test_the_table_is_saved_and_loaded(table, tmp_path):
    readings.save(table, tmp_path)
    assert readings.load(tmp_path) == table
    (tmp_path / readings.FILE).write_text('{"ア": "not a pair"}', encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="kb sync"):
        readings.load(tmp_path)
    (tmp_path / readings.FILE).unlink()
    with pytest.raises(IndexMismatchError, match="no readings.json"):
        readings.load(tmp_path)
