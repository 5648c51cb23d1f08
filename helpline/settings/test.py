"""Settings for pytest: fast hashers, a throwaway data folder, and the protocol's published test org key."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# Never the checkout's var/: a test run must not depend on, or change, what `make run` made there.
os.environ["HELPLINE_VAR_DIR"] = tempfile.mkdtemp(prefix="helpline-test-")

from helpline.settings.dev import *  # noqa: F403
from helpline.settings.dev import BASE_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_FAILURE_LIMIT = 3
# The organisation key of docs/protocol-vectors.json: public test material, so pages that pin a key
# render as in production. Tests that certify devices make and set keys of their own.
ORG_PUBLIC_KEY = json.loads(Path(BASE_DIR, "docs", "protocol-vectors.json").read_text())["org"]["public"]
# Tests solve the chat's puzzles in Python: a slow modelled phone keeps them cheap. The default prices'
# economics are tested as plain functions (tests/unit/test_chat_pow.py).
CHAT_POW_PHONE_RATE = 20_000
