"""Self-check: the scoring rules (Python and the page script agree), and the no-script form that keeps nothing."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from helpline.metrics.models import DailyCount
from selfhelp.loader import load_all
from selfhelp.models import SelfCheckBand, SelfCheckQuestion
from selfhelp.selfcheck import TALK_NOW, Question, score_selfcheck

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "selfhelp" / "static" / "selfhelp" / "selfhelp.js"
SCALE = [0, 1, 2, 3]
BANDS = [("starting-out", 0), ("worth-working-on", 6), ("talk-soon", 14)]
QUESTIONS = [
    Question("a", modules=("urges", "online")),
    Question("b", modules=("online",)),
    Question("plan", reverse=True, modules=("safety-plan",)),
    Question("act", talk_now_threshold=2, modules=("getting-help",)),
]


def answers(a: int, b: int, plan: int, act: int) -> dict[str, int]:
    return {"a": a, "b": b, "plan": plan, "act": act}


def test_low_answers_are_starting_out() -> None:
    result = score_selfcheck(QUESTIONS, answers(0, 0, 3, 0), SCALE, BANDS)
    assert (result.total, result.band, result.talk_now, result.suggested_modules) == (0, "starting-out", False, ())


def test_reverse_item_scores_the_other_way() -> None:
    # "I know what I will do" answered "never" (index 0) scores 3, not 0.
    assert score_selfcheck(QUESTIONS, answers(0, 0, 0, 0), SCALE, BANDS).total == 3
    assert score_selfcheck(QUESTIONS, answers(0, 0, 3, 0), SCALE, BANDS).total == 0
    assert score_selfcheck(QUESTIONS, answers(0, 0, 0, 0), SCALE, BANDS).suggested_modules == ("safety-plan",)


@pytest.mark.parametrize(("given", "band"), [
    (answers(3, 2, 3, 1), "worth-working-on"),  # 3 + 2 + 0 + 1 = 6: the band's lower edge
    (answers(3, 1, 3, 1), "starting-out"),      # 5
    (answers(3, 3, 0, 1), "worth-working-on"),  # 10
])
def test_bands_follow_min_scores(given: dict[str, int], band: str) -> None:
    assert score_selfcheck(QUESTIONS, given, SCALE, BANDS).band == band


def test_talk_now_is_forced_by_the_threshold_question_whatever_the_total() -> None:
    result = score_selfcheck(QUESTIONS, answers(0, 0, 3, 2), SCALE, BANDS)
    assert result.total == 2 and result.talk_now and result.band == TALK_NOW
    assert not score_selfcheck(QUESTIONS, answers(3, 3, 0, 1), SCALE, BANDS).talk_now


def test_suggestions_ranked_by_how_many_answers_point_at_them() -> None:
    result = score_selfcheck(QUESTIONS, answers(2, 3, 0, 3), SCALE, BANDS)
    assert result.suggested_modules == ("online", "urges", "safety-plan")


def test_out_of_range_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        score_selfcheck(QUESTIONS, answers(4, 0, 0, 0), SCALE, BANDS)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_page_script_scores_exactly_like_python(tmp_path: Path) -> None:
    rng = random.Random(7)
    cases = [{key: rng.randrange(4) for key in ("a", "b", "plan", "act")} for _ in range(200)]
    module = tmp_path / "selfhelp.mjs"
    shutil.copy(SCRIPT, module)
    questions = [{"key": q.key, "reverse": q.reverse, "talk_now_threshold": q.talk_now_threshold,
                  "modules": list(q.modules)} for q in QUESTIONS]
    program = (f"const {{ scoreSelfCheck }} = await import({json.dumps(module.as_uri())});\n"
               f"const cases = {json.dumps(cases)};\n"
               f"console.log(JSON.stringify(cases.map((c) => scoreSelfCheck({json.dumps(questions)}, c, "
               f"{json.dumps(SCALE)}, {json.dumps(BANDS)}))));")
    output = subprocess.run(["node", "--input-type=module", "-e", program], capture_output=True, text=True,
                            check=True).stdout
    for case, js in zip(cases, json.loads(output), strict=True):
        py = score_selfcheck(QUESTIONS, case, SCALE, BANDS)
        assert (js["total"], js["band"], js["talkNow"], tuple(js["suggested"])) == (
            py.total, py.band, py.talk_now, py.suggested_modules), case


# --- The form without JavaScript ---------------------------------------------------------------------------------

@pytest.fixture
def content(db: None) -> None:
    load_all()


def form_answers(index: int) -> dict[str, str]:
    return {q.key: str(index) for q in SelfCheckQuestion.objects.all()}


def test_shipped_bands_and_talk_now_text_exist(content: None) -> None:
    assert SelfCheckBand.objects.count() >= 2
    assert SelfCheckQuestion.objects.filter(talk_now_threshold__gt=0).exists()


def test_contract_selfcheck_form_works_without_script_sets_no_cookie_and_keeps_only_the_band(content: None) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/en/help/self-check/")
    assert page.status_code == 200 and not page.cookies
    assert "not a diagnosis" in page.content.decode()
    response = client.post("/en/help/self-check/", form_answers(0))
    html = response.content.decode()
    assert response.status_code == 200 and not response.cookies and "Set-Cookie" not in response
    assert response["Cache-Control"] == "no-store"
    assert "Your result" in html
    rows = list(DailyCount.objects.values_list("metric", "dimension", "count"))
    assert len(rows) == 1 and rows[0][0] == "selfhelp.selfcheck_completed" and rows[0][2] == 1
    assert rows[0][1] in {b.band for b in SelfCheckBand.objects.all()}


def test_selfcheck_form_talk_now(content: None) -> None:
    response = Client().post("/nl/help/self-check/", form_answers(3))
    assert response.status_code == 200
    assert DailyCount.objects.get().dimension == TALK_NOW
    assert "Je uitkomst" in response.content.decode() and "112" in response.content.decode()


def test_incomplete_selfcheck_is_shown_again_and_counts_nothing(content: None) -> None:
    partial = form_answers(1)
    partial.pop(next(iter(partial)))
    partial["q-bogus"] = "9"
    response = Client().post("/en/help/self-check/", partial)
    assert response.status_code == 400 and "Please answer every question." in response.content.decode()
    assert 'checked' in response.content.decode()
    assert not DailyCount.objects.exists()
