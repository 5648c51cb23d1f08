# One entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# pyenv honours .python-version; without pyenv, any python3 >= 3.12 on PATH will do.
PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && pyenv which python 2>/dev/null || command -v python3)
PORT ?= 8000
USER ?= demo-counsellor

.DEFAULT_GOAL := help
.PHONY: help install run code test lint types unit audit bench messages clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 or newer is needed (see .python-version); found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create the virtual environment and install everything

run: install ## run the embedded default on http://127.0.0.1:$(PORT)/ (SQLite, in-memory layer, demo staff)
	$(PY) -m helpline.embedded --port $(PORT)

code: install ## print the current second-factor code of a demo account: make code USER=demo-admin
	@$(PY) manage.py demo_code $(USER)

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

audit: install ## known vulnerabilities in the installed dependencies (needs PyPI's JSON API or OSV)
	$(VENV)/bin/pip-audit --progress-spinner off --skip-editable --strict

test: install ## the whole suite: lint, types, then every test layer (unit, consumer, live, browser, scaled)
	$(MAKE) lint
	$(PY) -m pytest

bench: install ## benchmarks; each prints a comparison table against its baseline
	$(PY) -m bench

messages: install ## refresh the Dutch catalogues from the code, then compile them
	# helpline/ holds the accounts and metrics apps, which keep catalogues of their own.
	for dir in helpline helpline/accounts helpline/metrics chat selfhelp securemessages; do \
	  (cd $$dir && PYTHONPATH=$(CURDIR) DJANGO_SETTINGS_MODULE=helpline.settings.dev \
	   $(CURDIR)/$(VENV)/bin/django-admin makemessages -l nl --no-obsolete -d django \
	   --ignore 'accounts/*' --ignore 'metrics/*' --ignore 'static/*'); done
	$(PY) manage.py compilemessages -v0 --ignore .venv --ignore var

clean: ## remove the virtual environment and the embedded default's data (var/)
	rm -rf $(VENV) var
