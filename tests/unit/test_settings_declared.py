"""Every setting the code reads is declared once, in helpline/settings/base.py (or is one of Django's own),
so no default hides in a `getattr(settings, NAME, default)` somewhere and the settings file says it all."""

from __future__ import annotations

import ast
from pathlib import Path

import django.conf.global_settings as django_defaults

import helpline.settings.base as base

REPO = Path(__file__).resolve().parent.parent.parent
CODE = ("chat", "helpline", "selfhelp")


def settings_read_by(path: Path) -> set[str]:
    """Names read as `settings.NAME`, `getattr(settings, "NAME", …)` or through a `setting("NAME", …)` helper."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings":
            names.add(node.attr)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"getattr", "hasattr"}
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) and node.args[0].id == "settings"
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            names.add(node.args[1].value)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setting"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return {name for name in names if name.isupper()}


def modules() -> list[Path]:
    return [path for folder in CODE for path in sorted((REPO / folder).rglob("*.py"))
            if "migrations" not in path.parts and "settings" not in path.parts]


def test_the_scan_finds_what_the_code_reads() -> None:
    read = set().union(*(settings_read_by(path) for path in modules()))
    assert {"VAR_DIR", "CHAT_TICK_SECONDS", "CHAT_FRAME_BURST", "ORG_PUBLIC_KEY"} <= read


def test_every_setting_the_code_reads_is_declared_in_base() -> None:
    declared = {name for name in vars(base) if name.isupper()} | {
        name for name in vars(django_defaults) if name.isupper()}
    undeclared = {f"{path.relative_to(REPO)}: {name}" for path in modules()
                  for name in settings_read_by(path) - declared}
    assert not undeclared, sorted(undeclared)
