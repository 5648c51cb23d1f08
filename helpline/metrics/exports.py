"""Spreadsheet exports of one report: a wide CSV and an .xlsx, numbers as numbers, suppressed cells empty with a note.

Both are written from the same `Report` as the page (reports.build_report), so they show the same figures. Text that
a spreadsheet would run as a formula is never written as such: CSV cells get a leading "'", and the .xlsx writes
every label with `write_string`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import xlsxwriter
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from helpline.metrics.disclosure import EXACT, HIDDEN, ROUNDED, SMALL, Figure
from helpline.metrics.reports import KeyFigure, Report, Table

Cell = str | int | float | None


def decimal_comma() -> bool:
    """Dutch spreadsheets read "82,5" as a number and split on ";" (Excel's list separator there)."""
    return (get_language() or "en").startswith("nl")


def note(figure: Figure, threshold: int) -> str:
    """Why a cell is empty (or rounded), in words a reader of the spreadsheet understands."""
    if figure.status == SMALL:
        return _("from 1 to %(n)d (fewer than %(t)d are not shown)") % {"n": threshold - 1, "t": threshold}
    if figure.status == HIDDEN:
        return _("hidden, so that a small number cannot be worked out from the total")
    if figure.status == ROUNDED:
        return _("rounded to the nearest %(t)d") % {"t": threshold}
    if figure.high is None:
        return _("at least %(low)d (a sum of months that hid something)") % {"low": figure.low}
    return _("from %(low)d to %(high)d (a sum of months that hid something)") % {"low": figure.low,
                                                                                  "high": figure.high}


def number(figure: Figure) -> int | None:
    """The number a cell holds: exact or rounded counts; None (an empty cell) for anything else."""
    return figure.point


def key_figure_rows(report: Report) -> Iterator[tuple[str, list[Cell], str, bool]]:
    """(label, [this period, previous, change], note, is_percent) per key figure."""
    for k in [*report.headline, *[k for k in report.key_figures if k.slug not in {h.slug for h in report.headline}]]:
        yield _key_figure_row(k)


def _key_figure_row(k: KeyFigure) -> tuple[str, list[Cell], str, bool]:
    percent = k.unit == "percent"
    label = f"{k.label} (%)" if percent else k.label
    values: list[Cell] = [k.value, k.previous_value, k.change_value]
    shown = [k.current, k.previous]
    notes = [f"{heading}: {text}" for heading, text, value in zip((_("This period"), _("Previous period")), shown,
                                                                  values, strict=False) if value is None]
    if k.detail:
        notes.insert(0, k.detail)
    return label, values, "; ".join(notes), percent


def table_rows(table: Table) -> Iterator[tuple[str, list[Figure]]]:
    for _key, label, figures in table.figure_rows():
        yield label, figures
    if table.show_total:
        yield _("Total"), [c.total for c in table.columns]


def _inert(text: str) -> str:
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def _csv_value(value: Cell, comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:g}"
        return text.replace(".", ",") if comma else text
    if isinstance(value, int):
        return str(value)
    return _inert(value)


def wide_csv(report: Report, service_name: str) -> str:
    """One block per table: a row per table row, a column per measure (or period), then a Notes column."""
    comma = decimal_comma()
    rows: list[list[Cell]] = [
        [f"{service_name}: {report.label}"],
        [_("Empty cells are not shown exactly; the Notes column says why.")],
        [],
        [_("Key figures"), _("This period"), report.previous_label, _("Change"), _("Notes")],
    ]
    for label, values, text, _percent in key_figure_rows(report):
        rows.append([label, *values, text])
    for table in report.tables:
        rows += [[], [table.title], [table.row_heading, *table.column_labels, _("Notes")]]
        for label, figures in table_rows(table):
            notes = [f"{heading}: {note(f, table.threshold)}" for heading, f in zip(table.column_labels, figures,
                                                                                       strict=True)
                     if f.status != EXACT]
            rows.append([label, *[number(f) for f in figures], "; ".join(notes)])
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if comma else ",", lineterminator="\r\n")
    writer.writerows([[_csv_value(cell, comma) for cell in row] for row in rows])
    return "\ufeff" + buffer.getvalue()  # the byte-order mark makes Excel read UTF-8


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(c for c in title if c not in "[]:*?/\\'")[:31].strip() or "Table"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" {n}"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def workbook(report: Report, service_name: str) -> bytes:
    """An .xlsx: a sheet of key figures, then one sheet per table; empty cells carry a note (a cell comment)."""
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    bold = book.add_format({"bold": True})
    title_format = book.add_format({"bold": True, "font_size": 13})
    percent = book.add_format({"num_format": "0.0"})
    used: set[str] = set()

    sheet = book.add_worksheet(_sheet_name(_("Key figures"), used))
    sheet.write_string(0, 0, f"{service_name}: {report.label}", title_format)
    sheet.write_string(1, 0, _("Empty cells are not shown exactly; each has a note that says why."))
    for col, heading in enumerate([_("Key figures"), _("This period"), report.previous_label, _("Change"),
                                   _("Notes")]):
        sheet.write_string(3, col, heading, bold)
    for row, (label, values, text, is_percent) in enumerate(key_figure_rows(report), start=4):
        sheet.write_string(row, 0, label)
        for col, value in enumerate(values, start=1):
            if value is None:
                sheet.write_blank(row, col, None)
            else:
                sheet.write_number(row, col, value, percent if is_percent else None)
        if text:
            sheet.write_string(row, 4, text)
    sheet.set_column(0, 0, 42)
    sheet.set_column(1, 3, 14)
    sheet.set_column(4, 4, 60)

    for table in report.tables:
        sheet = book.add_worksheet(_sheet_name(table.title, used))
        sheet.write_string(0, 0, table.title, title_format)
        sheet.write_string(1, 0, table.description)
        sheet.write_string(3, 0, table.row_heading, bold)
        for col, heading in enumerate(table.column_labels, start=1):
            sheet.write_string(3, col, heading, bold)
        for row, (label, figures) in enumerate(table_rows(table), start=4):
            sheet.write_string(row, 0, label, bold if label == _("Total") and table.show_total else None)
            for col, figure in enumerate(figures, start=1):
                value = number(figure)
                if value is None:
                    sheet.write_blank(row, col, None)
                else:
                    sheet.write_number(row, col, value)
                if figure.status != EXACT:
                    sheet.write_comment(row, col, note(figure, table.threshold))
        sheet.set_column(0, 0, 34)
        sheet.set_column(1, len(table.column_labels), 14)
    book.close()
    return output.getvalue()
