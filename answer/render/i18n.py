"""The terminal's own words in the desk worker's language: labels, notes and errors, Japanese or English.

The UI language is the ``ui_lang`` setting (``KB_UI_LANG``, ``--ui-lang``) when it names one;
otherwise Japanese for a Japanese question (or, with no question, a Japanese locale), else English.
Only what people read changes: the JSON schema stays language-neutral.

Notes inside an answer are written in English by the answer stage (``answer/ask.py``,
``answer/compose.py``); ``note_text`` maps the sentences known here to Japanese and leaves any
other sentence as it is (English), so a new note is never lost, only untranslated.
"""
from __future__ import annotations

import os
import re

UI_LANGUAGES = ("ja", "en")
JAPANESE = ("ja", "ja-easy")
_KANA = re.compile(r"[\u3040-\u30ff\uff66-\uff9f]")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "answered": "Answer (quoted from the guidebook)",
        "unsure": "Possible answer: the guidebook may not cover this question. Check the cited sections.",
        "not_found": "No answer found in the guidebook",
        "generated": "written by the LLM from the cited passages, checked",
        "sources": "Sources", "nearest": "Nearest sections", "also_in": "also in", "note": "Note",
        "passages": "Cited passages", "no_hits": "No passage matched.", "score": "score",
        "edition_of": "{lang} edition",
        "index": "Index", "version": "version", "model": "Model", "content": "Content", "search": "Search", "disk": "Disk",
        "content_line": "{chunks} chunks, {sentences} sentences, {documents} documents, {editions} editions",
        "examples_line": ", {examples} example questions",
        "search_line": "fusion {fusion}, re-ranking depth {depth}; chunks of {size} characters "
                       "(overlap {overlap}); built {created}",
        "editions": "Editions", "documents_n": "{n} documents", "chunks_n": "{n} chunks",
        "skipped_n": "{n} pages not indexed", "verbose_hint": "Every document: kb status --verbose",
        "sections_n": "{n} sections", "missing": "missing vs ja", "only_here": "only in this edition",
        "none": "none", "base_edition": "the original (others are aligned to it)",
        "error": "error",
        "shell_banner": "Madoguchi: type a question and press Enter. Commands: :lang CODE (answer edition, "
                        "e.g. vi; :lang off), :k N (passages), :passages (full passages on/off), :help, :quit",
        "answer_edition": "answer edition: {lang}", "as_asked": "as asked", "usage_k": "usage: :k N",
    },
    "ja": {
        "answered": "回答（ガイドブックからの引用）",
        "unsure": "参考（確実ではありません）：ガイドブックにこの質問への答えがない可能性があります。引用元を確認してください。",
        "not_found": "ガイドブックに該当する記載は見つかりませんでした",
        "generated": "LLMが引用元から作成・検証済み",
        "sources": "出典", "nearest": "近い項目", "also_in": "ほかの版", "note": "注",
        "passages": "引用元の本文", "no_hits": "該当する箇所はありません。", "score": "スコア",
        "edition_of": "{lang}版",
        "index": "インデックス", "version": "バージョン", "model": "モデル", "content": "内容", "search": "検索", "disk": "ディスク",
        "content_line": "チャンク {chunks}、文 {sentences}、文書 {documents}、版 {editions}",
        "examples_line": "、質問例 {examples}",
        "search_line": "融合 {fusion}、再ランク {depth} 件、チャンク {size} 文字（重なり {overlap}）、作成 {created}",
        "editions": "版（言語）", "documents_n": "文書 {n}", "chunks_n": "チャンク {n}",
        "skipped_n": "索引にないページ {n}", "verbose_hint": "文書ごとの一覧：kb status --verbose",
        "sections_n": "項目 {n}", "missing": "日本語版にあってこの版にない項目", "only_here": "この版だけの項目",
        "none": "なし", "base_edition": "原本（ほかの版はこれに合わせて対応づけ）",
        "error": "エラー",
        "shell_banner": "Madoguchi：質問を入力して Enter。コマンド：:lang コード（回答する版、例 vi、:lang off で元に戻す）、"
                        ":k 件数（引用する箇所の数）、:passages（本文の表示を切り替え）、:help、:quit",
        "answer_edition": "回答する版：{lang}", "as_asked": "質問の言語", "usage_k": "使い方：:k 件数",
    },
}

# The English sentences the answer stage writes into Answer.note, and their Japanese.
_NOTES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), ja) for p, ja in (
    (r"The knowledge base has no passage that answers this question\. The nearest sections are listed "
     r"below; check them or refer the question onwards\.",
     "ガイドブックにこの質問に答える箇所はありません。近い項目を下に示します。確認するか、担当の窓口につないでください。"),
    (r"There is no (?P<lang>\S+) edition in this knowledge base; answering from (?P<base>\S+)\.",
     r"このナレッジベースには \g<lang> 版がないため、\g<base> 版から回答しています。"),
    (r"Not in the (?P<lang>\S+) edition: (?P<ids>.+?) \(quoted from the (?P<base>\S+) edition\)\.",
     r"\g<lang> 版にない項目：\g<ids>（\g<base> 版から引用）。"),
    (r"The guidebook may not cover this question: these are the nearest sections; check that they answer "
     r"it before you pass them on\.",
     "ガイドブックがこの質問を扱っていない可能性があります。近い項目を示します。答えになっているか確認してから伝えてください。"),
    (r"Generated answer not used: (?P<why>.+?); showing the quoted answer\.",
     r"LLM の回答は使いませんでした（\g<why>）。引用による回答を表示しています。"),
))

# User mistakes the CLI reports most often (library errors stay English otherwise).
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), ja) for p, ja in (
    (r"^The query is empty; .*", "質問が空です。質問を入力してください（例：在留カードをなくしたらどうすればいいですか）"),
    (r"^The query is (?P<n>\d+) characters; the limit is (?P<max>\d+) \(setting max_query_chars\)$",
     r"質問が \g<n> 文字あります。上限は \g<max> 文字です（設定 max_query_chars）"),
    (r"^section (?P<id>\S+) is not in the (?P<lang>\S+) edition \(editions here: (?P<have>[^;]+); .*\)$",
     r"項目 \g<id> は \g<lang> 版にありません（この索引の版：\g<have>。各版にない項目は kb editions で確認できます）"),
))


def locale_is_japanese() -> bool:
    """Whether the process locale (LC_ALL, LC_MESSAGES, LANG, in POSIX order) is Japanese."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return value.lower().startswith("ja")
    return False


def ui_language(setting: str | None = None, language: str | None = None, text: str | None = None) -> str:
    """"ja" or "en": the setting when it names one; else Japanese for a Japanese ``language`` (an
    answer's) or ``text`` (a question with kana), or for a Japanese locale; else English."""
    if setting in UI_LANGUAGES:
        return setting
    if language in JAPANESE or (text and _KANA.search(text)) or locale_is_japanese():
        return "ja"
    return "en"


def label(key: str, ui: str, **values: object) -> str:
    """The label ``key`` in ``ui`` (falling back to English), with ``{names}`` filled in."""
    text = LABELS.get(ui, LABELS["en"]).get(key) or LABELS["en"][key]
    return text.format(**values) if values else text


def note_text(note: str, ui: str) -> str:
    """``note`` for the reader: the known English sentences in Japanese when ``ui`` is "ja"."""
    if ui != "ja":
        return note
    for pattern, japanese in _NOTES:
        note = pattern.sub(japanese, note)
    return re.sub(r"(?<=[。）])\s+", "", note)  # Japanese sentences need no space between them


def error_text(message: str, ui: str) -> str:
    """An error message for the reader: the common user mistakes in Japanese when ``ui`` is "ja"."""
    if ui == "ja":
        for pattern, japanese in _ERRORS:
            if pattern.match(message):
                return pattern.sub(japanese, message)
    return message
