from hypothesis import given, settings, strategies as st

from ingest.chunker import chunk_document, sentence_spans
from kb.model import Block, Document

PATH = ("第1章 入国・在留手続", "1 在留カード", "(3) 紛失")


def doc(*blocks: Block) -> Document:
    return Document("s.md", "s.md", "T", "ja", "e", tuple(blocks))


def test_sentences_end_at_japanese_stops_and_keep_closing_brackets():
    text = "警察に届けます。「証明書」をもらいます！14日以内ですか？はい」。Next one. ok"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["警察に届けます。", "「証明書」をもらいます！", "14日以内ですか？", "はい」。", "Next one.", "ok"]


def test_chunks_are_verbatim_spans_with_offsets_and_never_exceed_size():
    text = "在留カードをなくしたときは、すぐに警察に届けます。" * 12
    d = doc(Block("前の段落です。", ("第1章 入国・在留手続",), "1"), Block(text, PATH, "1.1.3", 2, "3"))
    chunks = chunk_document(d, size=100, overlap=30)
    assert len(chunks) > 3
    for c in chunks:
        assert d.text[c.char_start:c.char_end] == c.text
        assert len(c.text) <= 100
        assert c.text.endswith("。")
    assert chunks[0].section_path == ("第1章 入国・在留手続",)
    assert {c.section_id for c in chunks[1:]} == {"1.1.3"}
    assert {(c.page_index, c.page_label) for c in chunks[1:]} == {(2, "3")}


def test_overlap_repeats_whole_sentences():
    sentences = [f"文{i}はここで終わります。" for i in range(10)]
    d = doc(Block("".join(sentences), PATH, "1.1.3"))
    chunks = chunk_document(d, size=60, overlap=25)
    for a, b in zip(chunks, chunks[1:]):
        assert b.char_start < a.char_end  # shares a tail
        assert b.text.split("。")[0] + "。" in a.text


def test_chunks_never_cross_headings():
    d = doc(Block("一つ目の節です。", ("A",), None), Block("二つ目の節です。", ("B",), None))
    chunks = chunk_document(d, size=400, overlap=50)
    assert [c.text for c in chunks] == ["一つ目の節です。", "二つ目の節です。"]


def test_section_spanning_pages_records_first_and_last_page():
    d = doc(Block("前半です。", PATH, "1.1.3", 3, "4"), Block("後半です。", PATH, "1.1.3", 4, "5"))
    [c] = chunk_document(d, size=400, overlap=50)
    assert (c.page_label, c.page_end_label) == ("4", "5")
    assert c.text == "前半です。\n後半です。"


def test_table_stays_whole_when_it_fits_and_splits_between_rows_otherwise():
    table = "\n".join(f"| {i} | 行{i} |" for i in range(6))
    d = doc(Block(table, PATH, "1.1.3", kind="table"))
    assert [c.text for c in chunk_document(d, 400, 0)] == [table]
    small = chunk_document(d, 30, 0)
    assert all(c.text.startswith("|") and c.text.endswith("|") for c in small)


def test_chunk_ids_are_stable_and_unique():
    d = doc(Block("同じ文です。", PATH, "1.1.3"), Block("同じ文です。", ("第2章",), None), Block("同じ文です。", PATH, "1.1.3"))
    ids = [c.chunk_id for c in chunk_document(d, 5, 0)]
    assert len(set(ids)) == len(ids)
    assert ids == [c.chunk_id for c in chunk_document(d, 5, 0)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="あいう漢字。！？ ab.\n", min_size=1, max_size=300), min_size=1, max_size=4),
       st.integers(50, 200), st.integers(0, 49))
def test_any_text_chunks_into_verbatim_spans_covering_every_sentence(texts, size, overlap):
    d = doc(*(Block(t, (f"H{i}",), None) for i, t in enumerate(texts)))
    chunks = chunk_document(d, size, overlap)
    covered = set()
    for c in chunks:
        assert d.text[c.char_start:c.char_end] == c.text
        assert len(c.text) <= size
        covered.update(range(c.char_start, c.char_end))
    for offset, block in zip([0] + [sum(len(t) + 1 for t in texts[:i + 1]) for i in range(len(texts))], d.blocks):
        for s, e in sentence_spans(block.text):
            assert set(range(offset + s, offset + e)) <= covered
