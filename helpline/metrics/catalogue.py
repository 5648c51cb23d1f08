"""Every metric the service counts: its name, meaning and dimensions. docs/metrics.md follows this."""

from __future__ import annotations

from collections.abc import Callable


def _any_slug(dimension: str) -> bool:
    return 0 < len(dimension) <= 64 and all(c.isalnum() or c in "-_" for c in dimension)


# Metrics a visitor page may report through /count/ (everything else is counted server-side).
BEACON_METRICS: dict[str, Callable[[str], bool]] = {
    "selfhelp.module_started": _any_slug,
    "selfhelp.module_completed": _any_slug,
    "selfhelp.safety_plan_made": lambda d: d == "",
}
