"""Reads the shipped TOML content, validates it strictly, and loads it without clobbering operator edits.

Rule per item: missing → created; shipped entry unchanged (same source_hash) → left alone; shipped entry
changed → updated, unless an operator saved that item in the admin (edited_in_admin), which always wins.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from helpline.languages import LANGUAGE_CODES
from selfhelp.countries import COUNTRY_NAMES
from selfhelp.models import (
    EXERCISE_KINDS,
    PLAN_FIELDS,
    Exercise,
    Module,
    PageText,
    Resource,
    Section,
    SelfCheckBand,
    SelfCheckQuestion,
)

CONTENT_DIR = Path(__file__).resolve().parent / "content"
LANGUAGES = LANGUAGE_CODES  # helpline/languages.py
AUDIENCE_CODES = {"self", "others", "professionals"}
KIND_CODES = {code for code, _label in EXERCISE_KINDS}
PLAN_CODES = {code for code, _label in PLAN_FIELDS}


class ContentError(ValueError):
    """A content file is missing a field or has a wrong value; the message names the file and field."""


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)


def source_hash(entry: Any) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Reader:
    """Typed access to one TOML table that reports `file: path.to.field: problem`."""

    def __init__(self, file: Path, data: dict[str, Any], where: str = "") -> None:
        self.file, self.data, self.where = file, data, where

    def error(self, name: str, problem: str) -> ContentError:
        path = f"{self.where}.{name}" if self.where else name
        return ContentError(f"{self.file.name}: {path}: {problem}")

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = True, default: Any = None) -> Any:
        if name not in self.data:
            if required:
                raise self.error(name, "missing")
            return default
        value = self.data[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self.error(name, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
        if isinstance(value, str) and required and not value.strip():
            raise self.error(name, "empty")
        return value

    def text(self, name: str, *, required: bool = True) -> str:
        return str(self.get(name, str, required=required, default="")).strip()

    def strings(self, name: str, *, required: bool = True) -> list[str]:
        values = self.get(name, list, required=required, default=[])
        if not all(isinstance(v, str) for v in values):
            raise self.error(name, "expected a list of strings")
        if required and not values:
            raise self.error(name, "empty list")
        return [v.strip() for v in values]

    def table(self, name: str) -> Reader:
        return Reader(self.file, self.get(name, dict), f"{self.where}.{name}" if self.where else name)

    def tables(self, name: str, *, required: bool = True) -> list[Reader]:
        values = self.get(name, list, required=required, default=[])
        base = f"{self.where}.{name}" if self.where else name
        readers = []
        for index, value in enumerate(values):
            if not isinstance(value, dict):
                raise self.error(f"{name}[{index}]", "expected a table")
            readers.append(Reader(self.file, value, f"{base}[{index}]"))
        return readers


def read_toml(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{file.name}: not valid TOML: {error}") from None


def _keep(obj: Shipped_, new_hash: str, label: str, report: LoadReport) -> bool:
    """True when the existing row must be left as it is."""
    if obj.source_hash == new_hash:
        return True
    if obj.edited_in_admin:
        report.kept_edited.append(label)
        return True
    return False


Shipped_ = Module | Resource | SelfCheckQuestion | SelfCheckBand | PageText


def _upsert(model: type[Any], lookup: dict[str, Any], values: dict[str, Any], new_hash: str, label: str,
            report: LoadReport) -> tuple[Any, bool]:
    """Create or update one shipped row by the rule above; returns (row, whether its fields were written)."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model.objects.create(**lookup, **values, source_hash=new_hash)
        report.created.append(label)
        return obj, True
    if _keep(obj, new_hash, label, report):
        return obj, False
    for name, value in values.items():
        setattr(obj, name, value)
    obj.source_hash = new_hash
    obj.save()
    report.updated.append(label)
    return obj, True


# --- Modules ------------------------------------------------------------------------------------------------

def parse_module(file: Path) -> dict[str, Any]:
    raw = read_toml(file)
    top = Reader(file, raw)
    slug = top.text("slug")
    audience = top.text("audience")
    if audience not in AUDIENCE_CODES:
        raise top.error("audience", f"must be one of {sorted(AUDIENCE_CODES)}")
    module: dict[str, Any] = {"slug": slug, "audience": audience, "order": top.get("order", int),
                              "minutes": top.get("minutes", int), "sections": [], "exercises": []}
    per_language: dict[str, tuple[list[Reader], list[Reader]]] = {}
    for lang in LANGUAGES:
        part = top.table(lang)
        module[f"title_{lang}"] = part.text("title")
        module[f"summary_{lang}"] = part.text("summary")
        module[f"aims_{lang}"] = "\n".join(part.strings("aims"))
        module[f"reflection_{lang}"] = part.text("reflection", required=False)
        module[f"next_step_{lang}"] = part.text("next_step", required=False)
        per_language[lang] = (part.tables("sections"), part.tables("exercises", required=False))
    en_sections, en_exercises = per_language["en"]
    nl_sections, nl_exercises = per_language["nl"]
    if len(en_sections) != len(nl_sections):
        raise ContentError(f"{file.name}: sections: {len(en_sections)} in en but {len(nl_sections)} in nl")
    for order, (en, nl) in enumerate(zip(en_sections, nl_sections, strict=True)):
        module["sections"].append({"order": order, "heading_en": en.text("heading"), "heading_nl": nl.text("heading"),
                                   "body_en": en.text("body"), "body_nl": nl.text("body")})
    nl_by_key = {reader.text("key"): reader for reader in nl_exercises}
    if [r.text("key") for r in en_exercises] != list(nl_by_key):
        raise ContentError(f"{file.name}: exercises: keys differ between en and nl")
    for order, en in enumerate(en_exercises):
        nl = nl_by_key[en.text("key")]
        kind = en.text("kind")
        if kind not in KIND_CODES:
            raise en.error("kind", f"must be one of {sorted(KIND_CODES)}")
        exercise: dict[str, Any] = {"order": order, "key": en.text("key"), "kind": kind, "plan_field": "",
                                    "steps": 10}
        for lang, reader in (("en", en), ("nl", nl)):
            if reader.text("kind") != kind:
                raise reader.error("kind", "differs between en and nl")
            exercise[f"prompt_{lang}"] = reader.text("prompt")
            exercise[f"items_{lang}"] = "\n".join(reader.strings("items", required=kind == "checklist"))
            exercise[f"min_label_{lang}"] = reader.text("min_label", required=kind == "scale")
            exercise[f"max_label_{lang}"] = reader.text("max_label", required=kind == "scale")
        if kind == "checklist" and len(exercise["items_en"].splitlines()) != len(exercise["items_nl"].splitlines()):
            raise en.error("items", "en and nl have a different number of items")
        if kind == "scale":
            steps = en.get("steps", int)
            if not 2 <= steps <= 11:
                raise en.error("steps", "must be between 2 and 11")
            exercise["steps"] = steps
        if kind == "plan":
            plan_field = en.text("plan_field")
            if plan_field not in PLAN_CODES:
                raise en.error("plan_field", f"must be one of {sorted(PLAN_CODES)}")
            exercise["plan_field"] = plan_field
        module["exercises"].append(exercise)
    module["source_hash"] = source_hash(raw)
    return module


def load_module(module: dict[str, Any], report: LoadReport) -> None:
    values = {k: v for k, v in module.items() if k not in {"slug", "sections", "exercises", "source_hash"}}
    obj, written = _upsert(Module, {"slug": module["slug"]}, values, module["source_hash"],
                           f"module {module['slug']}", report)
    if not written:
        return
    obj.sections.all().delete()
    obj.exercises.all().delete()
    Section.objects.bulk_create(Section(module=obj, **section) for section in module["sections"])
    Exercise.objects.filter(key__in=[e["key"] for e in module["exercises"]]).delete()
    Exercise.objects.bulk_create(Exercise(module=obj, **exercise) for exercise in module["exercises"])


# --- Resources, self-check, page texts ---------------------------------------------------------------------

def parse_resources(file: Path) -> list[dict[str, Any]]:
    resources = []
    for order, reader in enumerate(Reader(file, read_toml(file)).tables("resources")):
        web = reader.text("web", required=False)
        if web and not web.startswith("https://"):
            raise reader.error("web", "must start with https://")
        languages = reader.strings("languages", required=False)
        country = reader.text("country", required=False)
        if country and country not in COUNTRY_NAMES:
            raise reader.error("country", f"{country!r} is not a code in selfhelp/countries.py")
        resources.append({
            "key": reader.text("key"), "order": order, "name_en": reader.text("name_en"),
            "name_nl": reader.text("name_nl", required=False),
            "category": reader.text("category"), "country": country,
            "languages": ",".join(languages), "phone": reader.text("phone", required=False), "web": web,
            "hours_en": reader.text("hours_en", required=False), "hours_nl": reader.text("hours_nl", required=False),
            "offers_en": reader.text("offers_en", required=False),
            "offers_nl": reader.text("offers_nl", required=False), "source_hash": source_hash(reader.data),
        })
    return resources


def parse_selfcheck(file: Path) -> dict[str, Any]:
    top = Reader(file, read_toml(file))
    scores = top.table("meta").get("scale_scores", list)
    if not scores or not all(isinstance(s, int) and not isinstance(s, bool) for s in scores):
        raise top.error("meta.scale_scores", "expected a list of integers")
    bands = [{"band": b.text("band"), "min_score": b.get("min_score", int), "source_hash": source_hash(b.data)}
             for b in top.tables("bands")]
    texts: list[dict[str, Any]] = [{"key": "scale_scores", "body_en": ",".join(map(str, scores)),
                                    "body_nl": ",".join(map(str, scores))}]
    parts = {lang: top.table(lang) for lang in LANGUAGES}
    for name in ("title", "intro"):
        texts.append({"key": name, **{f"body_{lang}": parts[lang].text(name) for lang in LANGUAGES}})
    labels = {lang: parts[lang].strings("scale_labels") for lang in LANGUAGES}
    for lang in LANGUAGES:
        if len(labels[lang]) != len(scores):
            raise parts[lang].error("scale_labels", f"needs {len(scores)} labels, one per scale score")
    texts.append({"key": "scale_labels", **{f"body_{lang}": "\n".join(labels[lang]) for lang in LANGUAGES}})
    band_names = [b["band"] for b in bands] + ["talk-now"]
    band_text = {lang: parts[lang].table("band_text") for lang in LANGUAGES}
    for band in band_names:
        texts.append({"key": f"band-{band}", **{f"body_{lang}": band_text[lang].text(band) for lang in LANGUAGES}})
    questions = []
    for order, q in enumerate(top.tables("questions")):
        questions.append({"key": q.text("key"), "order": order, "reverse": q.get("reverse", bool),
                          "talk_now_threshold": q.get("talk_now_threshold", int),
                          "modules": ",".join(q.strings("modules", required=False)),
                          "text_en": q.text("en"), "text_nl": q.text("nl"), "source_hash": source_hash(q.data)})
    for text in texts:
        text["source_hash"] = source_hash(text)
    return {"bands": bands, "texts": texts, "questions": questions}


def parse_page_texts(file: Path, page: str, list_fields: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    top = Reader(file, read_toml(file))
    parts = {lang: top.table(lang) for lang in LANGUAGES}
    keys = [k for k in parts["en"].data if isinstance(parts["en"].data[k], str | list)]
    texts = []
    for key in keys:
        entry: dict[str, Any] = {"key": key}
        for lang in LANGUAGES:
            entry[f"body_{lang}"] = ("\n".join(parts[lang].strings(key)) if key in list_fields
                                     else parts[lang].text(key))
        entry["source_hash"] = source_hash(entry)
        texts.append({"page": page, **entry})
    return texts


def _load_page_texts(page: str, texts: list[dict[str, Any]], report: LoadReport) -> None:
    for text in texts:
        values = {"body_en": text["body_en"], "body_nl": text["body_nl"]}
        _upsert(PageText, {"page": page, "key": text["key"]}, values, text["source_hash"],
                f"text {page}/{text['key']}", report)


def parse_all(content_dir: Path = CONTENT_DIR) -> dict[str, Any]:
    """Read and validate every file present; raise ContentError before anything is written."""
    parsed: dict[str, Any] = {"modules": [], "resources": [], "selfcheck": None, "pages": {}}
    slugs: dict[str, str] = {}
    for file in sorted((content_dir / "modules").glob("*.toml")):
        module = parse_module(file)
        if module["slug"] in slugs:
            raise ContentError(f"{file.name}: slug: {module['slug']!r} already used by {slugs[module['slug']]}")
        slugs[module["slug"]] = file.name
        parsed["modules"].append(module)
    if (content_dir / "resources.toml").exists():
        parsed["resources"] = parse_resources(content_dir / "resources.toml")
    if (content_dir / "selfcheck.toml").exists():
        parsed["selfcheck"] = parse_selfcheck(content_dir / "selfcheck.toml")
    if (content_dir / "right_now.toml").exists():
        parsed["pages"]["right-now"] = parse_page_texts(content_dir / "right_now.toml", "right-now", ("steps",))
    if (content_dir / "chat_intro.toml").exists():
        parsed["pages"]["chat-intro"] = parse_page_texts(content_dir / "chat_intro.toml", "chat-intro")
    return parsed


def load_all(content_dir: Path = CONTENT_DIR) -> LoadReport:
    parsed = parse_all(content_dir)
    report = LoadReport()
    with transaction.atomic():
        for module in parsed["modules"]:
            load_module(module, report)
        for resource in parsed["resources"]:
            values = {k: v for k, v in resource.items() if k not in {"key", "source_hash"}}
            _upsert(Resource, {"key": resource["key"]}, values, resource["source_hash"],
                    f"resource {resource['key']}", report)
        if parsed["selfcheck"]:
            for band in parsed["selfcheck"]["bands"]:
                _upsert(SelfCheckBand, {"band": band["band"]}, {"min_score": band["min_score"]},
                        band["source_hash"], f"band {band['band']}", report)
            for question in parsed["selfcheck"]["questions"]:
                values = {k: v for k, v in question.items() if k not in {"key", "source_hash"}}
                _upsert(SelfCheckQuestion, {"key": question["key"]}, values, question["source_hash"],
                        f"question {question['key']}", report)
            _load_page_texts("selfcheck", parsed["selfcheck"]["texts"], report)
        for page, texts in parsed["pages"].items():
            _load_page_texts(page, texts, report)
    return report
