"""Which edition language a text is in: by script first, then py3langid among that script's languages.

Most guidebook editions have a script of their own (kana -> ja, Hangul -> ko, Thai, Khmer, Myanmar,
Devanagari -> ne: the guidebook has Nepali, not Hindi), so the script decides and the statistical
model is only asked to tell apart languages sharing a script (Latin: en/vi/pt/es/tl/id/tr;
Cyrillic: uk/mn). Han text is Japanese or Chinese by kana and by the Han forms only one of the
writing standards uses (険/险/險). Easy Japanese ("ja-easy") cannot be told from "ja" by its
text, so it is reported as "ja". Everything runs offline; the py3langid model loads once, lazily
(from an uncompressed copy in the model cache when ``use_model_cache`` names one).
"""
from __future__ import annotations

import copy
import re
import threading
from array import array
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from ingest.quality import char_script

SAMPLE_CHARS = 20000  # enough text to judge by; a long document is not read to the end
LANGID_CHARS = 3000  # py3langid is sure long before this; more only costs time
# Japanese running text is ~90% Han/kana even with Latin terms mixed in; 30% keeps a
# Japanese page with many acronyms/URLs on the right side. The same share lets any non-Latin
# script outvote Latin (URLs, acronyms and names appear in every edition).
CJK_MIN_SHARE = 0.3

# Scripts that name their guidebook language outright.
_SCRIPT_LANGUAGE = {"hangul": "ko", "thai": "th", "lao": "lo", "khmer": "km", "myanmar": "my",
                    "devanagari": "ne", "mongolian": "mn", "sinhala": "si", "bengali": "bn",
                    "tamil": "ta", "greek": "el", "georgian": "ka", "armenian": "hy", "hebrew": "he"}
# Languages py3langid may answer per script: the editions' and the interpreting languages' (the 20
# of ISA's interpreting support: French is the one Latin-script language without an edition). Few
# candidates keep short texts from coming out as exotic languages (Tagalog as Bikol, Indonesian as
# Malay): on 20 one- or two-word English queries the Latin-script editions alone gave 15 "en",
# adding fr/de/it gave 12. Russian stays for Cyrillic: its letters differ enough from Ukrainian and Mongolian.
_CANDIDATES = {
    "latin": ("en", "vi", "pt", "es", "tl", "id", "tr", "fr"),
    "cyrillic": ("uk", "mn", "ru"),
    "arabic": ("ar", "fa", "ur"),
    "cjk": ("ja", "zh"),
}
_EDITION_CODE = {"zh": "zh-Hans"}
# One or two Latin words ("garbage", "visa renewal") are a guess (tl 0.35, id 0.38); below this
# probability the answer is English, the edition most Latin-script users can read.
MIN_CONFIDENCE = 0.5
_UNSURE = {"latin": "en"}
# French shares many short words with English (rent, station, pension, deposit): "rent deposit"
# comes out French at 0.54, "allocations familiales" at 0.63, so a French guess needs more.
_MIN_CONFIDENCE_FOR = {"fr": 0.6}

# Han characters that only one writing standard uses: Japanese shinjitai/kokuji (険 駅 込),
# Simplified (险 这 们) and Traditional (險 這 們) Chinese. Quoted terms cross over (Chinese
# editions quote 健康保険証), so these are counted and compared, never taken as proof alone.
_JA_HAN = ("経継続読売駅円図関険験検権県済剤斉薬訳様覧両緑録広拡転伝鉄単帯沢択対応営栄桜価気帰"
           "児歯収従証焼畳譲触専浅銭総蔵臓徴聴庁払仏悪圧囲縁塩殴穏仮絵覚楽観陥挙駆軽恵撃剣圏"
           "厳効鉱砕雑渋縦処実団戦乗浄毎発変辺歩満労歴齢働込畑峠枠匂栃")
_HANS = ("时请为报险发间许认费个护疗确难构续资证过询对办药则厅还岁语务补书关从诊电记动无应况儿"
         "获设别额编样迁缴领网话单给进长离变处养纳种开带业贴结龄计项备码强视户劳紧伤遗经级场"
         "员订规车邮职账调负协亲门审转现这实风译监馆须类标联载论营较础复达决节们么吗说让丢")
_ZH_HAN = "怎查步收效假乘每您吧呢哪很啊"  # both Chinese standards, not Japanese
_HANT = ("們這麼嗎說讓從對來會國學體當與點經實發證關險醫辦應條區變轉號讀賣驛圖檢權縣濟藥譯樣覽"
         "兩綠錄灣廣擴傳鐵單帶滯澤擇營榮價氣歸兒齒辭聽廳惡壓圍緣鹽穩繪覺樂觀舉驅輕擊劍嚴礦雜"
         "縱處團戰淨滿勞歷齡邊繼續萬圓裡錢歲戶舊寫聲壞雙聯")
_KANA_RE = re.compile(r"[\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff\uff66-\uff9d]")
_JA_HAN_RE = re.compile(f"[{_JA_HAN}]")
_HANS_RE = re.compile(f"[{_HANS}]")
_HANT_RE = re.compile(f"[{_HANT}]")
_ZH_HAN_RE = re.compile(f"[{_ZH_HAN}]")


class CjkEvidence(NamedTuple):
    kana: int
    ja_han: int
    hans: int
    hant: int
    zh_han: int

    @property
    def japanese(self) -> bool:
        """Kana and Japanese-only Han clearly outweigh Chinese-only Han. A Chinese page quoting
        在留カード has a few kana against many 这/们/险; Han with no telling form is not Japanese."""
        return self.kana + self.ja_han > 2 * (self.hans + self.hant + self.zh_han)


def cjk_evidence(text: str) -> CjkEvidence:
    """Counts of kana and of standard-specific Han characters in ``text``."""
    return CjkEvidence(len(_KANA_RE.findall(text)), len(_JA_HAN_RE.findall(text)),
                       len(_HANS_RE.findall(text)), len(_HANT_RE.findall(text)),
                       len(_ZH_HAN_RE.findall(text)))


def detect_language(text: str) -> str:
    """Edition code of ``text`` ("ja", "en", "zh-Hans", "ko", "vi", ...), the py3langid code for
    other languages, ``"und"`` when there are no letters."""
    sample = text[:SAMPLE_CHARS]
    script = _dominant_script(sample)
    if script is None:
        return "und"
    if script == "cjk":
        return _cjk_language(sample)
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script]
    return _identify(sample, _CANDIDATES.get(script), _UNSURE.get(script))


# The older name: the markdown and PDF loaders label documents with it, and answer/editions.py
# and answer/ask.py route each query to its edition with it.
guess_language = detect_language


def _dominant_script(text: str) -> str | None:
    """The script of most letters, except that Latin yields to any script with CJK_MIN_SHARE."""
    counts = Counter(s for ch in text if ch.isalpha() and (s := char_script(ch)) not in (None, "inherit"))
    letters = sum(counts.values())
    if not letters:
        return None
    latin = counts.pop("latin", 0)
    if counts:
        script, n = counts.most_common(1)[0]
        if n >= CJK_MIN_SHARE * letters or not latin:
            return script
    return "latin"


def _cjk_language(text: str) -> str:
    evidence = cjk_evidence(text)
    if evidence.japanese:
        return "ja"
    if evidence.hant > 2 * evidence.hans:
        return "zh-Hant"
    if evidence.hans or evidence.zh_han:
        return "zh-Hans"
    return _identify(text, _CANDIDATES["cjk"])  # Han only, no telling form: let the model choose


_lock = threading.Lock()
_identifiers: dict[tuple[str, ...] | None, object] = {}
_cache_dir: Path | None = None


def use_model_cache(directory: Path | None) -> None:
    """Keep an uncompressed copy of py3langid's tables in ``directory`` (None: read the packaged file).

    The packaged model is xz-compressed: unpacking it costs ~0.46 s on this machine, which a
    desk worker's English or Vietnamese question paid on every cold ``kb ask``. The plain copy
    (68 MB, written once, keyed by the package version) loads in ~0.06 s, its automaton memory-mapped."""
    global _cache_dir
    _cache_dir = Path(directory) if directory is not None else None


def _identify(text: str, candidates: tuple[str, ...] | None, unsure: str | None = None) -> str:
    code, probability = _identifier(candidates).classify(text[:LANGID_CHARS])
    if candidates == _CANDIDATES["latin"] and _toneless_vietnamese(text):  # py3langid unsure or wrong
        return "vi"
    if unsure and probability < _MIN_CONFIDENCE_FOR.get(code, MIN_CONFIDENCE):
        return unsure
    return _EDITION_CODE.get(code, code)


# Vietnamese typed without its diacritics (common on phones) is English or Tagalog to py3langid when
# short ("Toi bi mat the luu tru"). These toneless syllables are common in Vietnamese and rare as words
# of the other Latin-script candidates; on the eval files' questions, with and without diacritics,
# toneless Vietnamese went 207 -> 217 of 218 right and none of 842 other Latin-script questions changed.
_TONELESS_VI = frozenset(
    "toi khong duoc nguoi nhung phai cua minh lam viec muon biet chua roi nhe vay xin giup hoi nao thi nay "
    "voi cac nhieu tien luong nghi thang ngay gio nha cung dang hoc tieng truong nhat mua bao hiem dung kieu "
    "gi bi".split())
_ASCII_WORD = re.compile(r"[a-z]+")


def _toneless_vietnamese(text: str) -> bool:
    """Plain ASCII with two or more distinct toneless Vietnamese syllables, a fifth of its words."""
    if not text.isascii():
        return False
    words = _ASCII_WORD.findall(text.lower())
    hits = [w for w in words if w in _TONELESS_VI]
    return len(set(hits)) >= 2 and len(hits) >= 0.2 * len(words)


def _identifier(candidates: tuple[str, ...] | None):
    """A py3langid identifier restricted to ``candidates`` (None: all the model's languages).
    The model is read once, on first use; restricted copies share its tables, and the
    module-level identifier py3langid keeps for other callers is never touched."""
    with _lock:
        found = _identifiers.get(candidates)
        if found is None:
            if None not in _identifiers:
                _identifiers[None] = _load_model()
            found = _identifiers[None]
            if candidates is not None:
                found = copy.copy(found)
                found.set_languages(candidates)
            _identifiers[candidates] = found
        return found


def _load_model():
    """From the plain copy in the cache when there is one (or can be made), else the packaged file."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    found = _load_plain(_cache_dir, MODEL_DIR / MODEL_FILE, LanguageIdentifier) if _cache_dir else None
    return found or LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _load_plain(cache_dir: Path, packaged: Path, identifier: type):
    """An identifier from the uncompressed copy, written first if missing; None if that fails.
    The automaton (38 MB) is memory-mapped: a question walks a few of its rows, so the rest is never
    read into a serving process (its first English question cost 73 MB of RSS when it was copied in)."""
    from importlib.metadata import version

    import numpy as np

    plain = cache_dir / f"py3langid-{version('py3langid')}-m.npz"
    automaton = plain.with_suffix(".nextmove.npy")
    if not plain.is_file():
        try:
            _write_plain(packaged, plain, automaton)
        except OSError:  # a read-only cache only costs time
            return None
    try:
        with np.load(plain, allow_pickle=False) as data:
            return identifier(data["ptc"], data["pc"], data["classes"].tolist(),
                              np.load(automaton, mmap_mode="r", allow_pickle=False), data["out"].tolist(),
                              norm_probs=True, tk_row=_uint_array(data["row"]))
    except Exception:  # a damaged copy (disk full, edited): drop it, the next run rewrites it
        plain.unlink(missing_ok=True)
        automaton.unlink(missing_ok=True)
        return None


def _write_plain(packaged: Path, plain: Path, automaton: Path) -> None:
    """py3langid's own tables, uncompressed, each written to a temp file and renamed into place
    (the automaton first: the .npz's presence means both are complete)."""
    import os
    import tempfile

    import numpy as np
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, out = load_model(packaged)
    plain.parent.mkdir(parents=True, exist_ok=True)
    for target, write in ((automaton, lambda f: np.save(f, np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}"),
                                                          allow_pickle=False)),
                          (plain, lambda f: np.savez(f, ptc=np.asarray(ptc), pc=np.asarray(pc),
                                                     classes=np.array(classes), out=np.asarray(out, dtype=np.int32),
                                                     row=np.frombuffer(row, dtype=f"u{row.itemsize}")))):
        fd, tmp = tempfile.mkstemp(dir=plain.parent, prefix=f".{target.name}.tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _uint_array(values) -> array:
    """The stdlib array py3langid walks its automaton with (indexing it is faster than numpy's)."""
    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(memoryview(values).cast("B"))  # from the array's own buffer: no 38 MB bytes copy (peak RSS)
    return out
