"""The codename wordlists: 2048 distinct easy words each, the browser's copies identical, nothing on the blocklist."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from securemessages import crypto
from securemessages.wordlists import build

REPO = Path(__file__).resolve().parent.parent.parent
LISTS = REPO / "securemessages" / "wordlists"
STATIC = REPO / "securemessages" / "static" / "securemessages"


def words(lang: str) -> list[str]:
    return (LISTS / f"{lang}.txt").read_text(encoding="ascii").split("\n")[:-1]


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_each_list_has_2048_distinct_short_lowercase_words(lang: str) -> None:
    listed = words(lang)
    assert len(listed) == len(set(listed)) == build.LIST_SIZE == 2048
    assert all(re.fullmatch(r"[a-z]{3,8}", word) for word in listed)
    assert listed == sorted(listed)
    # A codename carries at least 80 bits.
    assert crypto.CODENAME_WORDS * math.log2(len(listed)) >= 80


@pytest.mark.parametrize(("lang", "stems", "blocked"), [("en", build.EN_STEMS, build.EN_WORDS),
                                                         ("nl", build.NL_STEMS, build.NL_WORDS)])
def test_no_word_on_a_topic_left_out(lang: str, stems: tuple[str, ...], blocked: frozenset[str]) -> None:
    listed = set(words(lang))
    assert not listed & blocked
    assert not [word for word in listed if any(stem in word for stem in stems)]
    # Spot checks that the filter is in force, in both directions.
    assert {"kind", "seks", "child", "naked"}.isdisjoint(listed)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_browser_module_holds_the_same_list(lang: str) -> None:
    module = (STATIC / f"words-{lang}.js").read_text(encoding="ascii")
    match = re.search(r"export const WORDS = Object\.freeze\((\[.*\])\);", module)
    assert match is not None
    assert json.loads(match.group(1)) == words(lang)


def test_the_sources_and_licences_are_written_down() -> None:
    readme = (LISTS / "README.md").read_text(encoding="utf-8")
    for needed in ("CC BY 3.0", "xkcdpass", "OpenTaal", "@zxcvbn-ts/language-nl-be", "MIT", "BSD"):
        assert needed in readme
