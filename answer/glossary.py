"""A hand-written glossary into Japanese: the words residents use for the guidebook's and the
statutes' key terms, in every interpreting language, carried to the Japanese term's lemmas.

The induced lexicon (``index.lexicon``) only knows what the indexed editions translate, and a
language with no edition gets nothing from it. The glossary (``answer/glossary/*.jsonl``, written
for this project) names each concept once: its Japanese term, other Japanese ways to write it
(``ja_alt``), easy-Japanese paraphrases (``ja-easy``) and 1-4 ways to say it in each language
(up to 7 in the 11 most common ones: everyday wordings and the Japanese loan words residents use). A
question's phrases are matched on its normalised text (NFKC, lower case): in languages written with
spaces a phrase must start a word (suffixes may follow: plurals, particles, case endings); in
Chinese, Thai, Khmer, Burmese and Japanese, anywhere; a number (110, 119) only as a whole number. Japanese questions are matched against the
Japanese variants and paraphrases with spaces removed.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from index.tokenize import normalize, tokenize

FOLDER = Path(__file__).with_name("glossary")
JAPANESE = ("ja_alt", "ja-easy")
UNSPACED = {"zh-Hans", "zh-Hant", "th", "km", "my", "ja"}


class Glossary:
    """The phrases of every ``*.jsonl`` file of a folder, matched against questions. A language's
    phrases are normalised when a question in it first comes, a term's lemmas when it first
    matches: a cold `kb ask` pays for one language, not all of them."""

    def __init__(self, folder: Path = FOLDER) -> None:
        self._entries: list[dict] = []
        for path in sorted(folder.glob("*.jsonl")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                entry = json.loads(line)
                if not isinstance(entry.get("ja"), str) or not entry["ja"].strip():
                    raise ValueError(f"glossary {path.name}:{n}: no Japanese term")
                self._entries.append(entry)
        self._languages: dict[str, tuple[dict[str, str], re.Pattern[str] | None]] = {}
        self._lemmas: dict[str, tuple[str, ...]] = {}

    def _language(self, language: str) -> tuple[dict[str, str], re.Pattern[str] | None]:
        """(phrase -> Japanese term, a matcher of every phrase) for one language."""
        if language not in self._languages:
            fields = JAPANESE if language == "ja" else (language,)
            phrases: dict[str, str] = {}
            for entry in self._entries:
                for field in fields:
                    for phrase in entry.get(field) or ():
                        key = _key(phrase, language)
                        if len(key) >= 2:  # a one-letter phrase would match inside anything
                            phrases.setdefault(key, entry["ja"])
            alternatives = "|".join(_pattern(p) for p in sorted(phrases, key=len, reverse=True))
            matcher = None if not phrases else re.compile(
                f"(?:{alternatives})" if language in UNSPACED else rf"(?<!\w)(?:{alternatives})")
            self._languages[language] = (phrases, matcher)
        return self._languages[language]

    def japanese_terms(self, text: str, language: str) -> list[str]:
        """The Japanese terms whose phrases ``text`` (in ``language``) contains, longest match first."""
        language = "ja" if language.startswith("ja") else language  # easy Japanese is matched as Japanese
        phrases, matcher = self._language(language)
        if matcher is None:
            return []
        return list(dict.fromkeys(phrases[m.group(0)] for m in matcher.finditer(_key(text, language))))

    def lemmas(self, text: str, language: str) -> list[str]:
        """The Japanese lemmas of the terms ``text`` names (what the bridge searches for)."""
        out: list[str] = []
        for term in self.japanese_terms(text, language):
            if term not in self._lemmas:
                self._lemmas[term] = tuple(dict.fromkeys(tokenize(term, readings=False)))
            out.extend(self._lemmas[term])
        return list(dict.fromkeys(out))


def _pattern(phrase: str) -> str:
    """A phrase as a regular expression; a number must not run on (110 is not the start of 1100 yen)."""
    return "".join((r"(?<!\d)" if phrase[0].isdigit() else "", re.escape(phrase),
                    r"(?!\d)" if phrase[-1].isdigit() else ""))


def _key(text: str, language: str) -> str:
    text = normalize(text).strip()
    return re.sub(r"\s+", "", text) if language == "ja" else re.sub(r"\s+", " ", text)


@lru_cache(maxsize=1)
def default() -> Glossary:
    """The glossary shipped with the code (read once per process)."""
    return Glossary()
