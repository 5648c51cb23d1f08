"""Self-check scoring: a plain function, mirrored line by line in static/selfhelp/selfhelp.js (scoreSelfCheck)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TALK_NOW = "talk-now"
SUGGEST_FROM_SCORE = 2  # an answer scoring this much (after reversing) suggests the question's modules
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Question:
    key: str
    reverse: bool = False
    talk_now_threshold: int = 0
    modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    total: int
    band: str
    talk_now: bool
    suggested_modules: tuple[str, ...]


def score_selfcheck(questions: Sequence[Question], answers: Mapping[str, int], scale_scores: Sequence[int],
                    bands: Sequence[tuple[str, int]]) -> Result:
    """`answers` maps question key → index into scale_scores; every question must be answered.

    A reversed question scores max − score. The band is the one with the highest min_score ≤ total; any
    question with talk_now_threshold > 0 answered at or above it forces the band to "talk-now".
    """
    top = max(scale_scores)
    total, talk_now = 0, False
    suggestions: Counter[str] = Counter()
    for question in questions:
        index = answers[question.key]
        if not 0 <= index < len(scale_scores):
            raise ValueError(f"answer for {question.key} out of range")
        score = top - scale_scores[index] if question.reverse else scale_scores[index]
        total += score
        if question.talk_now_threshold > 0 and score >= question.talk_now_threshold:
            talk_now = True
        if score >= SUGGEST_FROM_SCORE:
            suggestions.update(question.modules)
    band = ""
    for name, min_score in sorted(bands, key=lambda b: b[1]):
        if total >= min_score:
            band = name
    order: dict[str, int] = {}
    for question in questions:
        for slug in question.modules:
            order.setdefault(slug, len(order))
    ranked = sorted(suggestions, key=lambda slug: (-suggestions[slug], order[slug]))
    return Result(total, TALK_NOW if talk_now else band, talk_now, tuple(ranked[:MAX_SUGGESTIONS]))
