"""Spreadsheet exports and the figures at a glance: the same figures as the page, numbers as numbers, suppressed
cells empty with a note, Dutch CSV with ';' and decimal commas; new figures suppressed like the rest; empty state."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import openpyxl
import pytest
from django.test import Client

from helpline.accounts.roles import PROGRAMME_MANAGER
from helpline.metrics.actions import increment, today
from helpline.metrics.disclosure import latest_closed
from tests.conftest import staff_client_with_role


def manager() -> Client:
    return staff_client_with_role(PROGRAMME_MANAGER)[0]  # type: ignore[no-any-return]


def seed_month() -> str:
    month = latest_closed("month", today())
    day = month.start
    for metric, dimension, n in [
        ("chat.offered", "en", 40), ("chat.offered", "nl", 3), ("chat.answered", "en", 35),
        ("chat.answered", "nl", 2), ("chat.wait_bin", "<1", 25), ("chat.wait_bin", "1-2", 7),
        ("chat.wait_bin", "2-5", 5), ("chat.rating", "5", 12), ("chat.rating", "4", 7), ("chat.rating", "2", 1),
        ("chat.helped", "yes", 15), ("chat.helped", "unsure", 2), ("chat.helped", "no", 6),
        ("chat.next_step", "safety-plan", 6), ("chat.next_step", "professional", 2),
        ("chat.next_step", "contact-again", 9), ("selfhelp.return_check", "better", 3),
    ]:
        increment(metric, dimension, amount=n, day=day)
    return month.key


def page_tables(client: Client, key: str, lang: str = "en") -> dict[str, Any]:
    data = json.loads(client.get(f"/{lang}/staff/stats/export.json?period=month&key={key}").content)
    return data  # type: ignore[no-any-return]


@pytest.mark.django_db
def test_xlsx_holds_the_pages_figures_as_numbers_and_notes_on_empty_cells() -> None:
    key = seed_month()
    client = manager()
    data = page_tables(client, key)
    response = client.get(f"/en/staff/stats/export.xlsx?period=month&key={key}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    tables = list(data["tables"])
    assert len(book.sheetnames) == 1 + len(tables)
    checked = 0
    for table, name in zip(tables, book.sheetnames[1:], strict=True):
        sheet = book[name]
        assert sheet.cell(1, 1).value == table["title"]
        rows = table["rows"] + ([{"label": "Total", "values": table["totals"]}] if table["totals"] else [])
        for r, row in enumerate(rows, start=5):
            assert sheet.cell(r, 1).value == row["label"]
            for c, shown in enumerate(row["values"], start=2):
                cell = sheet.cell(r, c)
                if shown.isdigit():
                    assert cell.value == int(shown) and isinstance(cell.value, int), (name, row, shown)
                    if table["slug"] != "hour_of_week":
                        assert cell.comment is None
                else:
                    assert cell.value is None, (name, row, shown)
                    assert cell.comment is not None and cell.comment.text, (name, row, shown)
                checked += 1
    assert checked > 200
    key_sheet = book[book.sheetnames[0]]
    labels = {key_sheet.cell(r, 1).value: key_sheet.cell(r, 2).value for r in range(5, key_sheet.max_row + 1)}
    assert labels["Chats offered"] == 43
    assert labels["Answer rate (%)"] == pytest.approx(86.0)
    # 1 rating of 2 is hidden, so the share rated 4 or 5 is a range: an empty cell with a note saying so.
    assert labels["Rated the chat 4 or 5 (%)"] is None


@pytest.mark.django_db
def test_dutch_csv_uses_semicolons_and_decimal_commas_and_english_does_not() -> None:
    key = seed_month()
    client = manager()
    dutch = client.get(f"/nl/staff/stats/export.csv?period=month&key={key}")
    assert dutch.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(dutch.content.decode("utf-8-sig")), delimiter=";"))
    by_label = {row[0]: row for row in rows if row}
    assert by_label["Beantwoorde chats"][1] == "37"
    assert by_label["Antwoordpercentage (%)"][1] == "86"  # 37 of 43 = 86.0 %
    assert by_label["Zei dat de chat hielp (%)"][1] == "65,2"  # 15 of 23
    english = list(csv.reader(io.StringIO(client.get(f"/en/staff/stats/export.csv?period=month&key={key}")
                                          .content.decode("utf-8-sig"))))
    english_labels = {row[0]: row for row in english if row}
    assert english_labels["Chats answered"][1] == "37"
    wait = english[english.index(["Waiting time of answered chats"]) + 1:]
    assert wait[0] == ["Wait", "Chats", "Notes"]
    assert wait[1] == ["<1 min", "25", ""]


@pytest.mark.django_db
def test_new_figures_are_suppressed_like_the_rest() -> None:
    key = seed_month()
    data = page_tables(manager(), key)

    def rows(slug: str) -> dict[str, list[str]]:
        return {r["key"]: r["values"] for r in next(t for t in data["tables"] if t["slug"] == slug)["rows"]}

    # 2 "professional" is small; the smallest shown (6) is hidden with it; 9 and the zeros stay.
    assert rows("next_step") == {"selfhelp": ["0"], "safety-plan": ["*"], "professional": ["<5"],
                                 "someone-i-trust": ["0"], "contact-again": ["9"], "not-sure": ["0"]}
    assert rows("return_check") == {"better": ["<5"], "same": ["0"], "worse": ["0"]}
    headline = {k["slug"]: k for k in data["headline"]}
    # 4 is hidden (at least 5, at most the smallest shown, 12), 2 is "<5": 17 to 19 of 20 rated 4 or 5.
    assert headline["satisfied"]["value"] == "85–95%" and headline["satisfied"]["detail"] == "17–19 of 20 ratings"
    assert headline["helped"]["value"] == "65.2%" and headline["helped"]["detail"] == "15 of 23 answers"
    assert headline["answer_rate"]["value"] == "86%"
    for k in data["headline"]:
        for number in k["detail"].replace("–", " ").split():
            assert not (number.isdigit() and 0 < int(number) < 5), k


@pytest.mark.django_db
def test_empty_state_says_when_the_first_figures_appear() -> None:
    client = manager()
    page = client.get("/en/staff/stats/").content.decode()
    assert "Nothing has been counted yet" in page and "<svg" not in page
    increment("chat.offered", "en")  # today: its month has not ended
    page = client.get("/en/staff/stats/").content.decode()
    first = today().replace(day=1)
    assert "The first figures, for" in page and "<svg" not in page
    assert first.strftime("%B %Y") in page
