"""Keyword tokens for BM25, one rule per script, for documents and queries of every edition.

Text is NFKC-normalised (full-width letters/digits/spaces become ASCII), lower-cased, stripped of
invisible joiners, and cut into script runs; each run is tokenised by its rule:

* Japanese (kana or Japanese-only kanji outweigh Chinese-only Han in the whole text, see
  ``ingest.language.cjk_evidence``): fugashi + unidic-lite dictionary forms (lemmas) of content
  morphemes, so 紛失した / 紛失して / 紛失 all match, and a noun made from a verb also as that verb
  (引越し -> 引っ越し + 引っ越す, so it meets 引っ越した); punctuation, particles and auxiliaries are
  dropped. Plus katakana trigrams of the readings of each stretch of content morphemes, so an
  all-kana question (ひっこし, ざいりゅう) meets the kanji document (引っ越し, 在留): unidic cuts
  unknown kana strings badly (ざいりゅう -> 際 + 竜), but the reading stream is the same. Readings
  are made voiceless, so ひなんじょ meets 避難所 (which unidic reads ヒナン + ショ).
* Chinese, and Han-only text that could be either (国民健康保険 加入): the same fugashi lemmas,
  so Japanese documents are still found, plus character bigrams of each Han run (a lone
  character is its own token), so 我的在留卡丢了怎么办 meets Chinese documents.
* Thai, Lao, Khmer, Myanmar (no spaces between words): bigrams of grapheme clusters.
* Hangul: syllable bigrams of each word (Korean particles are glued to the word: 카드를).
* Everything else (Latin, Cyrillic, Devanagari, ...): words, combining marks kept inside them
  (Vietnamese tones, Devanagari vowel signs and viramas, which ``\\w`` alone splits at).

Documents and queries must use the same ``ANALYZER`` (recorded in the index manifest),
otherwise the keyword leg silently scores nothing.
"""
from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Iterator

from ingest.language import cjk_evidence

ANALYZER = "multiscript-lemma-kana3-bigram/5"  # 4: a deverbal noun also gives its verb; 5: voiceless readings

_HAN = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = "\u3006\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff"
_HANGUL = "\u1100-\u11ff\u3131-\u318e\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
_THAI = "\u0e01-\u0e3a\u0e40-\u0e4e\u0e50-\u0e59"
_LAO = "\u0e80-\u0eff"
_KHMER = "\u1780-\u17d3\u17d7\u17dc-\u17ff\u19e0-\u19ff"
_MYANMAR = "\u1000-\u1049\u1050-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f"
# Combining marks are not \w in Python's re: without them नेपाली falls apart into न / प / ल.
_MARKS = re.escape("".join(c for c in map(chr, range(0x10000)) if unicodedata.category(c)[0] == "M"))
_OWN_RULE = _HAN + _KANA + _HANGUL + _THAI + _LAO + _KHMER + _MYANMAR
_RUNS = re.compile(
    rf"(?P<word>[^\W\d_{_OWN_RULE}](?:[^\W{_OWN_RULE}]|[{_MARKS}])*)"  # starts with a letter
    rf"|(?P<hangul>[{_HANGUL}]+)"
    rf"|(?P<nospace>[{_THAI}]+|[{_LAO}]+|[{_KHMER}]+|[{_MYANMAR}]+)"
)
# Between the runs: Han/kana with the digits and punctuation around them (fugashi reads
# 14日以内 better whole), or bare numbers.
_CJK = re.compile(f"[{_HAN}{_KANA}]")
HAN_RUN = re.compile(f"[{_HAN}]+")
_NUMBER = re.compile(r"[^\W_]+")
_CLUSTER = re.compile(f".[{_MARKS}]*", re.S)  # a base character and the marks on it
_WORD_CHAR = re.compile(r"\w")
_ALL_KANA = re.compile(f"[{_KANA}]+")
_HIRAGANA = re.compile("[\u3041-\u309f\u30fc]+")
_KATAKANA_WORD = re.compile("[\u30a1-\u30fa\u30fc]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200c\u200d\u2060\ufeff"))  # soft hyphen, ZWNJ, ZWJ, ...
KATAKANA_OF = {c: c + 0x60 for c in range(0x3041, 0x3097)}  # str.translate: hiragana -> katakana
# Voiced and half-voiced katakana -> voiceless (ジ -> シ, バ/パ -> ハ), for reading n-grams
VOICELESS = str.maketrans("ガギグゲゴザジズゼゾダヂヅデドバビブベボパピプペポヴ", "カキクケコサシスセソタチツテトハヒフヘホハヒフヘホウ")

# Punctuation, symbols, spaces, particles and auxiliaries carry no topic. Dropping particles and
# auxiliaries measured +0.2 pt R@1 on JSQuAD (BM25 .889 -> .891, weighted .909 -> .911) and keeps
# question words like "ですか" from matching every polite sentence of the guidebook.
_DROP_POS = {"補助記号", "空白", "記号", "助詞", "助動詞"}
# Reading n-grams: trigrams beat bigrams and 4-grams on JSQuAD questions rewritten in kana
# (R@1 .46 -> .78 vs .74/.77) and keep kanji questions as they were (.891 -> .896 R@1).
_READING_N = 3


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_INVISIBLE)
    # "İ".lower() is "i" + combining dot above; Turkish users type the plain "i"
    return text.replace("i\u0307", "i") if "\u0307" in text else text


def tokenize(text: str, *, query: bool = False, readings: bool = True) -> list[str]:
    """Keyword tokens of ``text`` (see module docstring).

    ``query=True`` analyses a question: reading n-grams come only from words the asker wrote in
    hiragana (ひっこし, ざいりゅう), where the dictionary form is unreliable. A word written in kanji
    or katakana is matched by its lemma alone, so a long compound such as 在留カード does not
    outweigh the word that carries the question (なくした) through its many reading n-grams.
    ``readings=False``: lemmas only (words to translate between editions, ``index.lexicon``)."""
    text = normalize(text)
    tokens: list[str] = []
    japanese: bool | None = None  # decided once for the whole text, when Han/kana first appear
    for kind, run in _runs(text):
        if kind == "word":
            tokens.append(run)
        elif kind in ("hangul", "nospace"):
            tokens.extend(_bigrams(_CLUSTER.findall(run)))
        elif not _CJK.search(run):
            tokens.extend(_NUMBER.findall(run))
        else:
            if japanese is None:
                japanese = cjk_evidence(text).japanese
            tokens.extend(_japanese_tokens(run, readings=japanese and readings, hiragana_only=query))
            if not japanese:
                for han in HAN_RUN.findall(run):
                    tokens.extend(_bigrams(han))
    return tokens


def _runs(text: str) -> Iterator[tuple[str, str]]:
    """(kind, run) in text order; the stretches between matched runs have kind "cjk"."""
    pos = 0
    for match in _RUNS.finditer(text):
        if match.start() > pos:
            yield "cjk", text[pos:match.start()]
        yield match.lastgroup, match.group()
        pos = match.end()
    if pos < len(text):
        yield "cjk", text[pos:]


def _bigrams(units: list[str] | str) -> list[str]:
    if len(units) == 1:
        return [units[0]]
    return [units[i] + units[i + 1] for i in range(len(units) - 1)]


def _japanese_tokens(text: str, readings: bool, hiragana_only: bool = False) -> list[str]:
    """Lemmas of content morphemes, then (if ``readings``) n-grams of their reading streams
    (with ``hiragana_only``, only of morphemes written in hiragana)."""
    tokens: list[str] = []
    streams: list[list[str]] = [[]]
    for surface, pos1, lemma, kana in _morphemes(text):
        kana_letter = pos1 == "記号" and _ALL_KANA.fullmatch(surface)  # unidic's guess for ぜいきん
        if (pos1 in _DROP_POS and not kana_letter) or not surface.strip():
            if streams[-1]:
                streams.append([])
            continue
        if not kana_letter:
            token = _lemma_token(lemma or surface)
            if token:
                tokens.append(token)
                if pos1 == "名詞" and (verb := _verb_of_noun(token)):
                    tokens.append(verb)
        if readings:
            reading = _reading(surface, kana) if not hiragana_only or _HIRAGANA.fullmatch(surface) else ""
            if reading:
                streams[-1].append(reading)
            elif streams[-1]:
                streams.append([])
    for stream in streams:
        tokens.extend(_ngrams("".join(stream), _READING_N))
    return tokens


def reading_runs(text: str) -> list[list[tuple[str, str]]]:
    """Runs of adjacent content morphemes written with kanji or katakana, each as (surface, unidic's
    katakana reading), split at particles, auxiliaries, symbols, kana-only words and unknown words
    (``index.readings``: what a kana question's words are written as)."""
    runs: list[list[tuple[str, str]]] = [[]]
    for surface, pos1, _, kana in _morphemes(text):
        written = HAN_RUN.search(surface) or _KATAKANA_WORD.fullmatch(surface)
        if pos1 in _DROP_POS or not written or not kana or kana == "*":
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((surface, kana))
    return [run for run in runs if run]


def _lemma_token(lemma: str) -> str:
    # unidic lemmas of loanwords carry their origin: カード-card -> カード
    if "-" in lemma and not lemma.startswith("-"):
        lemma = lemma.split("-", 1)[0]
    token = normalize(lemma)
    return token if _WORD_CHAR.search(token) else ""


# A noun made from a verb's continuative form keeps its own lemma in unidic (引っ越し, 申し込み,
# 支払い, 届け), apart from the verb's (引っ越す, 申し込む, 支払う, 届ける): 「引越しをしました」 would never
# meet 「引っ越したときは」. Such a noun also yields the verb's lemma. The u-row kana that ends a godan
# verb, for the i-row kana that ends its continuative form:
_GODAN_END = dict(zip("いきぎしちにびみり", "うくぐすつぬぶむる"))
_OKURIGANA_NOUN = re.compile(f"[{_HAN}].*[\u3041-\u3096]$")  # kanji, then ends in hiragana


@functools.lru_cache(maxsize=8192)
def _verb_of_noun(lemma: str) -> str | None:
    """The verb lemma a noun lemma is the continuative form of (引っ越し -> 引っ越す, 届け -> 届ける),
    if the dictionary reads that verb as one verb; None for other nouns (手続き: there is no verb 手続く)."""
    if not _OKURIGANA_NOUN.fullmatch(lemma):
        return None
    candidates = ([lemma[:-1] + _GODAN_END[lemma[-1]]] if lemma[-1] in _GODAN_END else []) + [lemma + "る"]
    for verb in candidates:
        parsed = list(_morphemes(verb))
        if len(parsed) == 1 and parsed[0][1] == "動詞" and parsed[0][2] == verb:
            return verb
    return None


def _reading(surface: str, kana: str | None) -> str:
    """Katakana reading of a morpheme (unidic's, or the surface itself for unknown kana words),
    voiced kana made voiceless: a compound's second part is voiced when spoken (ひなんじょ) but
    unidic reads the part alone (避難 + 所: ヒナン + ショ)."""
    if kana and kana != "*":
        return kana.translate(VOICELESS)
    return surface.translate(KATAKANA_OF).translate(VOICELESS) if _ALL_KANA.fullmatch(surface) else ""


def _ngrams(reading: str, n: int) -> list[str]:
    if len(reading) < n:
        return [reading] if len(reading) >= 2 else []  # ゴミ: a short word is its own token
    return [reading[i:i + n] for i in range(len(reading) - n + 1)]


def _morphemes(text: str) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(surface, pos1, lemma, kana) per morpheme. Splitting feature_raw is ~3x faster than
    fugashi's ``word.feature`` namedtuple, which matters when indexing thousands of chunks."""
    tagger, lemma_at, kana_at = _tagger()
    with _tagger_lock:  # nodes are read before the next parse reuses their memory
        words = [(w.surface, w.feature_raw, w.feature if '"' in w.feature_raw else None) for w in tagger(text)]
    for surface, raw, feature in words:
        if feature is not None:  # a field containing a comma is CSV-quoted: fugashi parsed it
            yield surface, feature.pos1, feature.lemma, getattr(feature, "kana", None)
            continue
        fields = raw.split(",")
        if len(fields) > kana_at:
            yield surface, fields[0], fields[lemma_at], fields[kana_at]
        else:  # unknown word: part of speech only
            yield surface, fields[0], None, None


_tagger_lock = threading.Lock()
_shared: list[tuple] = []


def _tagger():
    """(tagger, lemma field index, kana field index), one for the process, used under ``_tagger_lock``
    (a Tagger is not safe to share between threads at once). One per thread mapped the 260 MB
    dictionary once per thread, and RSS counts every mapping: ~50-100 MB more per serving worker."""
    with _tagger_lock:
        if not _shared:
            try:
                import fugashi
            except ImportError as exc:  # pragma: no cover - a broken install
                from kb.errors import ConfigError

                raise ConfigError("fugashi is not installed: pip install 'fugashi' 'unidic-lite'") from exc
            tagger = fugashi.Tagger()
            fields = type(tagger("日")[0].feature)._fields  # unidic-lite and full unidic order differ
            _shared.append((tagger, fields.index("lemma"), fields.index("kana")))
        return _shared[0]


CJK_BIGRAM = "cjk-bigram/1"
_CJK_RUN = re.compile(f"[{_HAN}{_KANA}]+")


def cjk_bigrams(text: str, *, query: bool = False) -> list[str]:
    """Character bigrams of each Han/kana run (a lone character is its own token); other words whole.

    The second keyword leg: robust to segmentation mistakes and compounds the dictionary splits
    differently in question and passage. Measured on JSQuAD (see BENCHMARKS.md): as a third leg
    beside dense and lemma BM25 it raised R@1 from .910 to .923. ``query`` is accepted for a common
    analyzer signature; questions and passages are cut the same way."""
    text = normalize(text)
    tokens: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        tokens.extend(_NUMBER.findall(text[pos:m.start()]))
        tokens.extend(_bigrams(m.group()))
        pos = m.end()
    tokens.extend(_NUMBER.findall(text[pos:]))
    return tokens


ANALYZERS = {"lemma": tokenize, "bigram": cjk_bigrams}
# Versioned names: cached tokens (index.cache) are reused only by the analyzer version that made them.
ANALYZER_IDS = {"lemma": ANALYZER, "bigram": CJK_BIGRAM}
