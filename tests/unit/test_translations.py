"""Every catalogue is complete in Dutch and its compiled .mo is up to date with its .po."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
CATALOGUES = sorted(p for p in REPO.glob("**/locale/nl/LC_MESSAGES/*.po") if ".venv" not in p.parts)


def test_there_are_catalogues() -> None:
    assert any("helpline/locale" in str(p) for p in CATALOGUES)
    assert any("accounts/locale" in str(p) for p in CATALOGUES)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_message_is_translated(po: Path) -> None:
    text = po.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the first block is the header
    untranslated = []
    for entry in entries:
        if "msgid " not in entry or entry.lstrip().startswith("#~"):
            continue
        if "#, fuzzy" in entry:
            untranslated.append(entry)
            continue
        for msgstr in re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', entry + "\n", flags=re.M):
            if "".join(re.findall(r'"(.*)"', msgstr)) == "":
                untranslated.append(entry)
    assert not untranslated, "\n\n".join(untranslated[:5])


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: str(p.relative_to(REPO)))
def test_compiled_catalogue_matches(po: Path, tmp_path: Path) -> None:
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(po)], check=True)
    assert po.with_suffix(".mo").read_bytes() == compiled.read_bytes(), f"run `make messages` for {po}"
