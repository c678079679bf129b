import pytest

from ingest.headings import heading_number, kanji_to_int, section_id


@pytest.mark.parametrize("heading, number", [
    ("第1章 入国・在留手続", 1), ("第１２章 日常生活", 12), ("第十九章 x", 19), ("第二節 在留", 2),
    ("1 在留カード", 1), ("１．在留カード", 1), ("(3) 紛失", 3), ("（３）紛失", 3),
    ("Chapter 10 Emergencies", 10), ("Chương 2 Thủ tục", 2), ("अध्याय 7 पेन्सन", 7), ("Kabanata 1 Pagpasok", 1),
    ("在留カード", None), ("2026年の改正", None), ("Overview", None),
])
def test_heading_numbers(heading, number):
    assert heading_number(heading) == number


def test_section_id_joins_numbered_levels():
    assert section_id(("第1章 入国・在留手続", "1 在留カード", "(3) 紛失")) == "1.1.3"
    assert section_id(("第8章 税金",)) == "8"
    assert section_id(("はじめに",)) is None


def test_kanji_numerals():
    assert [kanji_to_int(t) for t in ("十九", "二十", "百二", "三", "12", "１２", "一〇〇", "x")] == [19, 20, 102, 3, 12, 12, 100, None]


def test_roman_numerals_and_korean_chapters():
    assert [kanji_to_int(t) for t in ("Ⅰ", "Ⅳ", "Ⅸ", "Ⅹ", "IV", "XII", "①")] == [1, 4, 9, 10, 4, 12, 1]
    assert heading_number("第Ⅱ章 在留手続") == 2
    assert heading_number("제3장 주거") == 3 and heading_number("제 10 장") == 10
    assert section_id(("第Ⅲ部 生活", "제1장 주거")) == "3.1"
