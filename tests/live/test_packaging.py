"""The built wheel is the whole site: templates, static files, catalogues and content are in it, and a clean
virtual environment with only the wheel installed passes `check` and serves pages in both languages.

The wheel is built from this checkout with the locked setuptools (nothing fetched). The clean environment
borrows the dependencies of the test environment read-only (a .pth line, so their own .pth files, the
editable install of this checkout among them, are not run): the test needs no network, and every `helpline`
module it imports comes from the wheel, which it checks. That the lock installs is `make install`'s job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.live

SERVE_PAGES = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("load_content", verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)  # as `make run` does: pages name hashed files
from django.test import Client
import helpline, helpline.asgi
client = Client(SERVER_NAME="localhost")  # an allowed host of the embedded default
pages = {path: client.get(path) for path in ("/en/", "/nl/", "/en/help/modules/")}
import re
stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', pages["/en/"].content.decode()).group(1)
pages["stylesheet"] = client.get(stylesheet)
print(json.dumps({
    "helpline": helpline.__file__,
    "status": {path: response.status_code for path, response in pages.items()},
    "dutch": "Naar de inhoud" in pages["/nl/"].content.decode(),
    "modules": pages["/en/help/modules/"].content.decode().count('href="/en/help/modules/'),
    "websockets": "websockets" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy: a build in the checkout leaves build/ behind, which the next build would take files from.
    source = tmp_path_factory.mktemp("source") / "helpline"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info",
                                                                 "__pycache__", "node_modules", ".*_cache"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True, timeout=240)
    (built,) = out.glob("helpline-*.whl")
    return built


def test_the_wheel_holds_templates_static_files_catalogues_and_content(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for app in ("helpline", "helpline/accounts", "helpline/metrics", "chat", "selfhelp", "securemessages"):
        assert f"{app}/locale/nl/LC_MESSAGES/django.mo" in names, app
    for expected in ("helpline/templates/base.html", "helpline/static/helpline/site.css",
                     "chat/static/chat/visitor.js", "selfhelp/content/chat_intro.toml",
                     "securemessages/wordlists/en.txt", "securemessages/wordlists/nl.txt"):
        assert expected in names, expected
    assert any(name.startswith("selfhelp/templates/") for name in names)
    assert not any(name.startswith(("tests/", "bench/", "docs/")) for name in names)


def test_a_clean_install_of_the_wheel_checks_and_serves_pages(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=240)

    run_dir = tmp_path / "elsewhere"  # not the checkout, whose folder would shadow the wheel on sys.path
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELPLINE_", "PYTHON"))}
    env |= {"DJANGO_SETTINGS_MODULE": "helpline.settings.dev", "HELPLINE_VAR_DIR": str(tmp_path / "var")}
    check = subprocess.run([str(python), "-m", "django", "check"], cwd=run_dir, env=env, capture_output=True,
                           text=True, timeout=240)
    assert check.returncode == 0 and "no issues" in check.stdout, check.stdout + check.stderr

    served = subprocess.run([str(python), "-c", SERVE_PAGES], cwd=run_dir, env=env, capture_output=True, text=True,
                            timeout=240)
    assert served.returncode == 0, served.stderr[-3000:]
    result = json.loads(served.stdout.strip().splitlines()[-1])
    assert Path(result["helpline"]).is_relative_to(site), result["helpline"]  # the wheel, not this checkout
    assert result["status"] == {"/en/": 200, "/nl/": 200, "/en/help/modules/": 200, "stylesheet": 200}
    assert result["dutch"], "the Dutch catalogue is missing from the wheel"
    assert result["modules"] > 0, "the self-help content is missing from the wheel"
    assert not result["websockets"], "the server imported the Python chat client's websockets"
