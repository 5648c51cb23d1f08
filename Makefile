# One entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# pyenv honours .python-version; without pyenv, any python3 >= 3.12 on PATH will do.
PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null || command -v python3)
PORT ?= 8000
USER ?= demo-counsellor

.DEFAULT_GOAL := help
# The test layers, each a folder of tests/ and a target of its own, run in this order by `make test`.
LAYERS := unit consumers live browser scaled
PYTEST := $(PY) -m pytest
# Every layer but scaled runs on every core (pytest-xdist): a unit or consumer worker has its own test database
# and in-memory channel layer; a live or browser worker starts its own Daphne processes (and Chromium), on ports
# from a block of its own (tests/conftest.py, free_port). The scaled layer's one deployment (PostgreSQL, Redis,
# two Daphnes, nginx) is shared by its tests, so it runs in one process. JOBS=0 runs each layer in one process.
JOBS ?= auto

.PHONY: help install lock system-packages run code test lint types $(LAYERS) audit bench messages clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# Everything comes from the hashed lock (requirements/dev.txt; docs/decisions/0011-hashed-lock-with-uv.md),
# then our own package, editable, built with the locked setuptools: nothing unpinned is fetched.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 or newer is needed (see .python-version); found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed ## create the virtual environment and install everything (from the lock)

# After changing a dependency in pyproject.toml: pin every package with its hashes, for any platform.
LOCK = $(VENV)/bin/uv pip compile --generate-hashes --universal --python-version 3.12 \
	--custom-compile-command "make lock" -q
lock: install ## pin every dependency and its hashes into requirements/ (production; dev and client; build)
	$(LOCK) pyproject.toml -o requirements/prod.txt
	$(LOCK) pyproject.toml --extra client --extra dev -o requirements/dev.txt
	echo "setuptools>=84.0,<84.1" | $(LOCK) - -o requirements/build.txt

run: install ## run the embedded default on http://127.0.0.1:$(PORT)/ (SQLite, in-memory layer, demo staff)
	$(PY) -m helpline.embedded --port $(PORT)

code: install ## print the current second-factor code of a demo account: make code USER=demo-admin
	@$(PY) manage.py demo_code $(USER)

lint: install ## ruff, then mypy (make types)
	$(VENV)/bin/ruff check .
	$(MAKE) --no-print-directory types

types: install ## mypy over the project (strict for chat.protocol)
	$(VENV)/bin/mypy .

system-packages: ## install the Debian packages the tests need (as root or through sudo), or say how
	@bash .ci/system-packages

unit: system-packages install ## rules, models, views through Django's test client: no process, no server
	$(PYTEST) tests/unit -n $(JOBS) $(ARGS)

consumers: system-packages install ## the chat sockets through the real ASGI app (Channels' communicator)
	$(PYTEST) tests/consumers -n $(JOBS) $(ARGS)

live: system-packages install ## against a real Daphne process (and other real processes) on loopback
	$(PYTEST) tests/live -n $(JOBS) $(ARGS)

browser: system-packages install ## Debian's Chromium through Playwright, against a real Daphne
	$(PYTEST) tests/browser -n $(JOBS) $(ARGS)

scaled: system-packages install ## Redis, PostgreSQL, two Daphne processes and nginx
	$(PYTEST) tests/scaled $(ARGS)

audit: install ## known vulnerabilities in the locked dependencies (needs PyPI's JSON API or OSV)
	$(VENV)/bin/pip-audit --progress-spinner off --strict --disable-pip --require-hashes \
	  -r requirements/prod.txt -r requirements/dev.txt

# Every layer runs even when one before it failed, so one run shows every failure; the exit code is
# non-zero if anything failed. ARGS reaches pytest: make unit ARGS="-k queue -x".
# The browser layer leaves about half of two cores idle (its tests mostly wait on Chromium, the server and the
# page's own timers), so the scaled layer runs beside it, on ports and folders of its own; its output is held
# and printed after the browser layer's, so the two never interleave.
IN_TURN := unit consumers live
test: system-packages install ## the whole suite: ruff, mypy, unit, consumers, live, then browser with scaled beside it
	@failed=""; \
	for step in lint $(IN_TURN); do \
	  $(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	held=$$(mktemp); \
	$(MAKE) --no-print-directory scaled >$$held 2>&1 & beside=$$!; \
	$(MAKE) --no-print-directory browser || failed="$$failed browser"; \
	wait $$beside || failed="$$failed scaled"; \
	echo "--- make scaled (ran beside make browser) ---"; cat $$held; rm -f $$held; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed"; exit 1; fi

bench: install ## benchmarks; each prints a comparison table against its baseline
	$(PY) -m bench

messages: install ## refresh the Dutch catalogues from the code, then compile them
	# helpline/ holds the accounts and metrics apps, which keep catalogues of their own: only there are they
	# left out (makemessages leaves out every directory of that name, and each app's templates are in one).
	for dir in helpline helpline/accounts helpline/metrics chat selfhelp securemessages; do \
	  apps=$$([ $$dir = helpline ] && echo "--ignore accounts/* --ignore metrics/*"); \
	  (cd $$dir && PYTHONPATH=$(CURDIR) DJANGO_SETTINGS_MODULE=helpline.settings.dev \
	   $(CURDIR)/$(VENV)/bin/django-admin makemessages -l nl --no-obsolete -d django \
	   $$apps --ignore 'static/*'); done
	$(PY) manage.py compilemessages -v0 --ignore .venv --ignore var

clean: ## remove the virtual environment and the embedded default's data (var/)
	rm -rf $(VENV) var
