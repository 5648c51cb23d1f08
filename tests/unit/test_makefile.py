"""The Makefile is the one entry point for people and CI: README's two commands, one target per test layer
that really runs that layer's folder, and `make test` running lint and every layer."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
MAKEFILE = (REPO / "Makefile").read_text(encoding="utf-8")
LAYERS = ("unit", "consumers", "live", "browser", "scaled")


def recipe(target: str) -> str:
    match = re.search(rf"^{target}:[^\n]*\n((?:\t[^\n]*\n)+)", MAKEFILE, flags=re.MULTILINE)
    assert match, f"no target {target} with a recipe"
    return match.group(1)


def test_the_readme_commands_and_the_everyday_targets_exist() -> None:
    assert "helpline.embedded" in recipe("run")
    assert "demo_code" in recipe("code")
    assert "ruff check" in recipe("lint") and "mypy" in recipe("types")
    assert ".ci/system-packages" in recipe("system-packages")
    assert "--require-hashes" in recipe(r"\$\(VENV\)/\.installed")


def test_each_layer_target_runs_its_own_folder() -> None:
    assert re.search(r"^LAYERS := unit consumers live browser scaled$", MAKEFILE, flags=re.MULTILINE)
    for layer in LAYERS:
        assert f"$(PYTEST) tests/{layer} " in recipe(layer) + " ", layer
        assert (REPO / "tests" / layer).is_dir()


def test_make_test_runs_lint_and_every_layer_after_installing_what_they_need() -> None:
    head = re.search(r"^test: ([^#\n]*)##", MAKEFILE, flags=re.MULTILINE)
    assert head and head.group(1).split() == ["system-packages", "install"]
    assert "for step in lint $(IN_TURN)" in recipe("test")
    in_turn = re.search(r"^IN_TURN := ([^\n]*)$", MAKEFILE, flags=re.MULTILINE)
    assert in_turn and in_turn.group(1).split() == ["unit", "consumers", "live"]
    # The last two layers run side by side, and each one's failure fails `make test`.
    assert "$(MAKE) --no-print-directory scaled >$$held 2>&1 & beside=$$!" in recipe("test")
    assert 'wait $$beside || failed="$$failed scaled"' in recipe("test")
    assert '$(MAKE) --no-print-directory browser || failed="$$failed browser"' in recipe("test")
    assert (REPO / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith("make test")
