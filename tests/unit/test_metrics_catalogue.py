"""The metric catalogue: the names other apps use, bins, the beacon's allow-list, and docs/metrics.md in step."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helpline.metrics.catalogue import BEACON_METRICS, METRICS, MINUTE_BINS, minutes_bin, service_level
from helpline.metrics.docs import render
from selfhelp.loader import load_all

REPO = Path(__file__).resolve().parent.parent.parent

EXPECTED = {
    "selfhelp.page_view", "selfhelp.module_started", "selfhelp.module_completed", "selfhelp.selfcheck_completed",
    "selfhelp.safety_plan_made", "selfhelp.right_now_view", "site.referral", "chat.offered", "chat.refused",
    "chat.answered", "chat.abandoned_queued", "chat.ended_by", "chat.wait_bin", "chat.duration_bin",
    "chat.service_level", "chat.transfers", "chat.resumes", "chat.wrapup", "chat.rating", "chat.helped",
    "chat.demand_how", "chat.capacity_how", "chat.next_step", "selfhelp.return_check",
    "mailbox.threads_started", "mailbox.received", "mailbox.threads_answered", "mailbox.first_reply_days",
    "mailbox.wrapup",
}


def test_catalogue_has_exactly_the_agreed_names() -> None:
    assert set(METRICS) == EXPECTED


def test_contract_beacon_allows_only_these() -> None:
    assert set(BEACON_METRICS) == {"selfhelp.module_started", "selfhelp.module_completed",
                                   "selfhelp.selfcheck_completed", "selfhelp.safety_plan_made",
                                   "selfhelp.return_check"}


def test_every_metric_is_documented() -> None:
    for m in METRICS.values():
        assert m.meaning and m.unit and m.incremented_by, m.name
        assert m.validator is not None or m.dimensions, m.name


@pytest.mark.parametrize(("metric", "dimension", "ok"), [
    ("selfhelp.module_completed", "managing-urges", True),
    ("selfhelp.module_completed", "coping-with-urges", False),  # well formed, but no such module is loaded
    ("selfhelp.module_completed", "Coping", False),
    ("selfhelp.module_completed", "", False),
    ("selfhelp.module_completed", "x" * 65, False),
    ("selfhelp.selfcheck_completed", "talk-now", True),
    ("selfhelp.selfcheck_completed", "panic", False),
    ("selfhelp.safety_plan_made", "", True),
    ("selfhelp.safety_plan_made", "x", False),
    ("chat.offered", "nl", True),
    ("chat.offered", "de", False),
    ("site.referral", "poster", True),
    ("site.referral", "anything", False),
    ("chat.wrapup", "concern.online-images", True),
    ("chat.wrapup", "concern", False),
    ("chat.wrapup", "a.b.c", False),
    ("chat.rating", "5", True),
    ("chat.rating", "6", False),
    ("chat.refused", "pow_invalid", True),
    ("chat.wait_bin", "40+", True),
])
@pytest.mark.django_db
def test_dimensions_are_validated(metric: str, dimension: str, ok: bool) -> None:
    load_all()
    assert METRICS[metric].accepts(dimension) is ok


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "<1"), (59.9, "<1"), (60, "1-2"), (119, "1-2"), (120, "2-5"), (299, "2-5"), (300, "5-10"),
    (600, "10-20"), (1199, "10-20"), (1200, "20-40"), (2399, "20-40"), (2400, "40+"), (86400, "40+"),
])
def test_minutes_bin(seconds: float, expected: str) -> None:
    assert minutes_bin(seconds) == expected
    assert expected in MINUTE_BINS


def test_minutes_bin_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        minutes_bin(-1)


def test_service_level_uses_setting(settings: object) -> None:
    assert service_level(120) == "within" and service_level(121) == "beyond"
    settings.SERVICE_LEVEL_MINUTES = 5  # type: ignore[attr-defined]
    assert service_level(300) == "within" and service_level(301) == "beyond"


def test_committed_doc_matches_the_catalogue() -> None:
    committed = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/metrics.md is out of date: run `python manage.py metrics_doc`"


def test_metrics_doc_command_check_mode(tmp_path: Path) -> None:
    target = tmp_path / "metrics.md"
    with pytest.raises(CommandError, match="out of date"):
        call_command("metrics_doc", "--output", str(target), "--check")
    call_command("metrics_doc", "--output", str(target), stdout=io.StringIO())
    assert target.read_text(encoding="utf-8") == render()
    call_command("metrics_doc", "--output", str(target), "--check")
