"""Settings: the documented precedence, and coercion of every value into its field's declared type."""
from dataclasses import dataclass
from pathlib import Path

import pytest

from kb.config import Settings, coerce
from kb.errors import ConfigError


@dataclass(frozen=True)
class Kinds:
    flag: bool = False
    count: int = 0
    ratio: float = 0.0
    folder: Path = Path(".")
    name: str | None = None
    languages: tuple[str, ...] = ()
    numbers: tuple[int, ...] = ()


@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("1", True), ("yes", True), ("on", True), (True, True),
    ("false", False), ("0", False), ("no", False), ("off", False), (False, False),
])
def test_bools_parse_from_environment_text_and_toml(raw, expected):
    assert coerce(Kinds, {"flag": raw}).flag is expected


def test_numbers_paths_optionals_and_lists():
    got = coerce(Kinds, {"count": "7", "ratio": "0.25", "folder": "~/idx", "name": "x",
                         "languages": "ja, vi,en", "numbers": [1, "2"]})
    assert (got.count, got.ratio, got.name) == (7, 0.25, "x")
    assert got.folder == Path("~/idx").expanduser() and got.languages == ("ja", "vi", "en")
    assert got.numbers == (1, 2)
    assert coerce(Kinds, {"languages": ["ja"]}).languages == ("ja",)


@pytest.mark.parametrize("field, raw", [("flag", "False!"), ("count", "7.5"), ("ratio", "x"), ("count", True),
                                        ("numbers", "1,x")])
def test_a_value_that_does_not_fit_is_one_clear_error(field, raw):
    with pytest.raises(ConfigError, match=f"Setting {field}="):
        coerce(Kinds, {field: raw})


def test_unknown_settings_are_named():
    with pytest.raises(ConfigError, match=r"Unknown setting\(s\) \['colour'\]"):
        coerce(Kinds, {"colour": "red"})


def test_precedence_defaults_file_environment_arguments(isolated_home, monkeypatch):
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text("top_k = 3\nthreads = 2\nreload_every = 1.5\n", encoding="utf-8")
    monkeypatch.setenv("KB_TOP_K", "4")
    s = Settings.load(threads=None, reload_every=2)
    assert (s.top_k, s.threads, s.reload_every, s.chunk_size) == (4, 2, 2.0, 400)
    assert s.index == isolated_home / "index" and s.model_cache


def test_each_stage_reads_its_own_typed_slice(isolated_home):
    s = Settings.load(chunk_size=300, dense_weight=0.7, abstain_below=0.2, llm_timeout=5)
    assert (s.chunking.size, s.chunking.overlap) == (300, 80)
    assert s.retrieval.weights == {"dense": 0.7, "keyword": 0.5, "bigram": 0.0, "bridge": 0.5}
    assert s.answer.abstain_below == 0.2 and s.llm.timeout == 5.0
    assert s.embedding.model_cache == s.model_cache


def test_bad_toml_and_bad_values_are_config_errors(isolated_home, monkeypatch):
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text("top_k = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load()
    (isolated_home / "config.toml").unlink()
    monkeypatch.setenv("KB_CHUNK_SIZE", "ten")
    with pytest.raises(ConfigError, match="chunk_size='ten' is not a valid int"):
        Settings.load()
