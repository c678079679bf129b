"""The terminal's line breaker: widths by wcwidth, 禁則, easy-Japanese phrases, graphemes kept whole."""
import pytest
from hypothesis import given, settings, strategies as st
from wcwidth import iter_graphemes

from answer.render.linebreak import NO_END, NO_START, clip_lines, display_width, spaced, wrap

GARBAGE = "家庭ごみは、種類ごとに決められた曜日の朝に出します。回収日は地域によって異なり、流れることがあります。「紙類」とは、古紙のことです。"
EASY = "在留カードを なくした ときや、ぬすまれた ときは、まず 近くの 警察署（けいさつしょ）か 交番（こうばん）に 行きます。"
NEPALI = "निवास कार्ड (在留カード) हराएमा वा चोरी भएमा, सबैभन्दा पहिले नजिकैको प्रहरी कार्यालय (警察署) वा प्रहरी चौकी"
THAI = "หากบัตรผู้พำนัก (在留カード) สูญหายหรือถูกขโมย ให้แจ้งที่สถานีตำรวจ (警察署) หรือป้อมตำรวจ (交番) ที่ใกล้ที่สุดก่อน"


@pytest.mark.parametrize("text, cells", [
    ("在留カード", 10), ("abc", 3), ("Việt", 4), ("ทำ", 2),
    ("कार्ड", 4),  # spacing vowel signs take a cell (rich counts 3 here)
    ("", 0),
])
def test_display_width_is_wcwidth(text, cells):
    assert display_width(text) == cells


@pytest.mark.parametrize("width", range(6, 41))
def test_japanese_lines_fit_and_keep_kinsoku(width):
    lines = wrap(GARBAGE, width)
    assert "".join(lines) == GARBAGE  # nothing lost, nothing added
    for line in lines:
        assert display_width(line) <= width
        assert line[0] not in NO_START and line[-1] not in NO_END, lines


def test_a_closing_mark_pulls_the_character_before_it_onto_the_next_line():
    # 「…あります。」 at a width where only 。 would overflow: あ moves down with it (追い出し).
    assert wrap("流れることがあります。", 20) == ["流れることがありま", "す。"]
    assert wrap("あいう「紙類」とは", 8) == ["あいう", "「紙類」", "とは"]  # 「 never ends a line


def test_no_break_between_a_number_and_its_unit():
    assert wrap("14日以内に届け出ます", 7)[0] == "14日以"
    assert all(not line.startswith("日") for w in range(4, 20) for line in wrap("提出は14日以内です", w))


def test_easy_japanese_breaks_at_phrases():
    assert spaced(EASY) and not spaced(GARBAGE)
    lines = wrap(EASY, 30)
    assert lines == ["在留カードを なくした ときや、", "ぬすまれた ときは、まず 近くの", "警察署（けいさつしょ）か",
                     "交番（こうばん）に 行きます。"]


def test_a_phrase_wider_than_the_line_is_still_broken():
    lines = wrap("出入国在留管理庁（しゅつにゅうこくざいりゅうかんりちょう）の ウェブサイト", 16)
    assert all(display_width(line) <= 16 for line in lines) and len(lines) >= 4


@pytest.mark.parametrize("text", [NEPALI, THAI])
def test_narrow_scripts_break_at_spaces_and_keep_japanese_terms_whole(text):
    for width in (20, 30, 50):
        lines = wrap(text, width)
        assert all(display_width(line) <= width for line in lines)
        joined = " ".join(lines)
        assert "(在留カード)" in joined and "(警察署)" in joined


def test_graphemes_are_never_split():
    word = "การออกบัตรใหม่เนื่องจากสูญหาย"  # one Thai run with no space: must be cut somewhere
    clusters = set(iter_graphemes(word))
    for width in range(2, 12):
        for line in wrap(word, width):
            assert set(iter_graphemes(line)) <= clusters


def test_latin_words_stay_whole_and_long_words_are_cut():
    assert wrap("The knowledge base has no passage", 12) == ["The", "knowledge", "base has no", "passage"]
    assert wrap("https://www.moj.go.jp/isa/support/portal/guidebook_all.html", 20)[0] == "https://www.moj.go.j"


def test_a_no_break_space_glues_and_prints_as_a_space():
    assert wrap("届け出ます。\u00a0[1]", 13) == ["届け出ま", "す。 [1]"]


def test_newlines_start_lines_and_control_characters_go():
    assert wrap("一行目\n二行目\x07", 40) == ["一行目", "二行目"]


def test_clip_lines_ends_with_an_ellipsis_that_fits():
    lines = wrap(GARBAGE, 20)
    clipped = clip_lines(lines, 2, 20)
    assert len(clipped) == 2 and clipped[-1].endswith("…") and display_width(clipped[-1]) <= 20
    assert clip_lines(lines[:2], 2, 20) == lines[:2]


ALPHABET = st.sampled_from(list("あいうえおかきくけこ漢字在留カード、。「」（）ー・っゃabc xyz 12") +
                           ["कार्ड", "ทำ", "ệ", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, min_size=0, max_size=80).map("".join), st.integers(min_value=2, max_value=40))
def test_every_line_fits_and_no_text_is_lost(text, width):
    lines = wrap(text, width)
    assert all(display_width(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
