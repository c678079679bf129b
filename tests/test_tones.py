"""index.tones: Vietnamese typed without tone marks, read in the Vietnamese edition's spelling."""
import pytest

from index import tones
from index.tones import ToneReader, build, plain
from kb.errors import IndexMismatchError
from kb.model import Chunk


def chunk(text: str, language: str = "vi", section: str | None = "1.1.3", n: int = 0) -> Chunk:
    return Chunk(f"{language}{n}", f"{language}/01.md", "t", language, "r", text, ("s",), section)


@pytest.fixture(scope="module")
def table():
    return build([
        chunk("Khi bị mất thẻ lưu trú, hãy báo cho đồn cảnh sát. Thẻ lưu trú được cấp lại miễn phí."),
        chunk("Bạn có thể hỏi thế nào? Làm thế nào để đăng ký địa chỉ?", n=1),
        chunk("Thẻ bảo hiểm y tế. Mang thẻ bảo hiểm khi đi khám. Bảo hiểm y tế quốc dân.", n=2),
        chunk("Điều 3: thuế tiêu thụ.", section="第三条", n=3),  # a statute article, not the edition
        chunk("Thẻ cư trú bị mất.", "en", n=4),  # another edition
    ])


def test_counts_come_from_the_vietnamese_editions_numbered_sections(table):
    assert table["forms"]["thẻ"] == 4 and table["pairs"]["thẻ lưu"] == 2
    assert "thuế" not in table["forms"] and "cư" not in table["forms"]
    assert "trú hãy" not in table["pairs"]  # a comma between: not a pair
    assert table["forms"]["tôi"] >= tones.CONVERSATION_COUNT  # the conversational words are counted too
    assert build([chunk("住民税", "ja")]) == {"forms": {}, "pairs": {}}  # no Vietnamese edition


def test_plain_is_what_a_keyboard_without_vietnamese_types():
    assert plain("Đăng ký thẻ lưu trú") == "Dang ky the luu tru"
    assert plain("thế") == plain("thẻ") == "the"


def test_a_toneless_question_is_read_in_the_editions_spelling(table):
    reader = ToneReader(table)
    assert reader.restore("Toi bi mat the luu tru, phai lam gi?") == "Tôi bị mất thẻ lưu trú, phải làm gì?"
    # the pair decides between the forms of one plain spelling
    assert reader.restore("lam the nao") == "làm thế nào"
    assert reader.restore("the bao hiem") == "thẻ bảo hiểm"


def test_other_text_is_left_alone(table):
    reader = ToneReader(table)
    assert reader.restore("Tôi bị mất the luu tru") == "Tôi bị mất the luu tru"  # typed with marks already
    assert reader.restore("xyz 123") == "xyz 123"
    assert ToneReader({"forms": {}, "pairs": {}}).restore("toi bi mat") == "toi bi mat"


def test_the_table_is_saved_and_loaded(table, tmp_path):
    tones.save(table, tmp_path)
    assert tones.load(tmp_path) == table
    (tmp_path / tones.FILE).write_text('{"forms": {"a": "one"}, "pairs": {}}', encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="kb sync"):
        tones.load(tmp_path)
    (tmp_path / tones.FILE).unlink()
    with pytest.raises(IndexMismatchError, match="no tones.json"):
        tones.load(tmp_path)
