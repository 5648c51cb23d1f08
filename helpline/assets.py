"""Static files as browsers get them: content-hashed names, and the import map that pins every script by its hash.

`collectstatic` (ManifestStaticFilesStorage) writes each file under a name with a hash of its content, so a
changed file is a new URL and nothing stale is ever served from a cache. Module files keep their relative
imports (`./protocol.js`) byte for byte: the page's import map sends each unhashed module URL to its hashed
name and gives the SHA-384 hash of every module the page may load. Chromium refuses a module whose bytes do
not match (static and dynamic imports alike), and `Integrity-Policy` makes it refuse any script without a
hash at all. Served bytes equal the files in the repository, so anyone can check the published hashes
(`manage.py asset_hashes`) against a checkout. The template side is helpline/templatetags/page_scripts.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.staticfiles.storage import staticfiles_storage

# Django's admin ships classic (non-module) scripts under these names; they are not ours to map.
THIRD_PARTY_STATIC = ("admin/",)
# The request attribute that carries the CSP hashes of a page's inline scripts (its import map) to the middleware.
INLINE_SCRIPT_HASHES = "inline_script_hashes"
# Characters that must never appear raw inside a <script> element's text.
_SCRIPT_TEXT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def sri_sha384(body: bytes) -> str:
    """The Subresource Integrity value browsers check a script against."""
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")


def csp_sha256(text: str) -> str:
    """The CSP source that allows exactly this inline script text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@dataclass(frozen=True)
class ServedFile:
    """One static file under the name the browser asks for."""

    name: str  # as in {% static %}: "chat/protocol.js"
    url: str  # the hashed name's URL: "/static/chat/protocol.1a2b3c4d5e6f.js"
    sha256: str
    sri: str


@cache
def served_files() -> dict[str, ServedFile]:
    """Every file of the collected manifest, by its name in {% static %}; read once per process."""
    hashed_names, _manifest_hash = staticfiles_storage.load_manifest()  # type: ignore[attr-defined]
    if not hashed_names:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("No static files manifest: run `manage.py collectstatic` (make run does).")
    files = {}
    for name, hashed_name in sorted(hashed_names.items()):
        with staticfiles_storage.open(hashed_name) as handle:
            body = handle.read()
        files[name] = ServedFile(name=name, url=staticfiles_storage.url(name), sha256=hashlib.sha256(body).hexdigest(),
                                 sri=sri_sha384(body))
    return files


def served_file(name: str) -> ServedFile:
    try:
        return served_files()[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a collected static file (a typo, or run collectstatic)") from None


def page_modules() -> list[ServedFile]:
    """Every ES module of ours: the files an import map may have to resolve."""
    return [file for name, file in served_files().items()
            if name.endswith(".js") and not name.startswith(THIRD_PARTY_STATIC)]


def import_map(pinned: Iterable[Mapping[str, str]] = ()) -> str:
    """The import map's text: unhashed module URL → hashed URL, and the hash of every URL it may load.

    `pinned` adds modules that are not static files (the org-key module), each as {url, integrity}.
    """
    imports: dict[str, str] = {}
    integrity: dict[str, str] = {}
    for module in page_modules():
        imports[staticfiles_storage.base_url + module.name] = module.url  # type: ignore[attr-defined]
        integrity[module.url] = module.sri
    for module_pinned in pinned:
        integrity[module_pinned["url"]] = module_pinned["integrity"]
    text = json.dumps({"imports": imports, "integrity": integrity}, sort_keys=True, separators=(",", ":"))
    return text.translate(_SCRIPT_TEXT_ESCAPES)


def published_hashes(dynamic: Iterable[tuple[str, bytes]] = ()) -> dict[str, dict[str, str]]:
    """URL → {sha256, sri} of every file a browser may load from us: hashed static names and dynamic modules."""
    hashes: dict[str, dict[str, Any]] = {file.url: {"sha256": file.sha256, "sri": file.sri}
                                         for file in served_files().values()}
    for url, body in dynamic:
        hashes[url] = {"sha256": hashlib.sha256(body).hexdigest(), "sri": sri_sha384(body)}
    return dict(sorted(hashes.items()))
