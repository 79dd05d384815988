# Tensors to ConvNets — the project's interface. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000
# Where the chapters find (or download) MNIST; CI points it at an offline mirror.
export TORCH_COURSE_DATA ?= $(CURDIR)/data
# Node packages (npm registry, locked with integrity hashes in book/_ext/package-lock.json):
# MathJax typesets the math when the book is built (pages load no math JavaScript);
# axe-core checks accessibility in the site tests.
NODE_MODULES := $(VENV)/npm/node_modules
# Notebooks to execute (make execute NB=notebooks/01_tensors.ipynb); default: the toc's.
NB ?= $(shell $(BIN)/python tests/nbtools.py toc)
# nbval compares every stored output; this file normalises addresses and ids first.
# Each chapter runs once, on one of the machine's cores (pytest-xdist, one file a worker).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=600 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg -n $(JOBS) --dist loadfile
# The Colab lane: Google Colab's versions (tests/colab/requirements.txt), on Python 3.13
# where the machine has it (pyenv), else the default python3.
COLAB_VENV := .venv-colab
COLAB_PYTHON ?= $(or $(lastword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13)),$(shell command -v python3.13 2>/dev/null),$(PYTHON))

.PHONY: help setup system-packages browser book serve execute test test-colab lint \
        spell lock clean bench audit

help:
	@echo "make book       build the website into _build/html (the main job)"
	@echo "make test       everything CI checks: lint, book, structure, nbval, site tests"
	@echo "make test-colab run every chapter alone on Google Colab's package versions"
	@echo "make serve      serve _build/html on http://127.0.0.1:$(PORT)/"
	@echo "make execute    re-run notebooks in place (NB=notebooks/NN_x.ipynb for one)"
	@echo "make lint       ruff, codespell and notebook normalisation"
	@echo "make lock       regenerate requirements.lock from requirements.txt"
	@echo "make bench      MNIST benchmark: the notes' MLP, the fixed MLP, the CNNs"
	@echo "make audit      Lighthouse scores and page weights of every page (a report)"
	@echo "make setup      create .venv from requirements.lock (done by book/test)"
	@echo "make clean      remove build outputs (keeps .venv)"

# --- installation ----------------------------------------------------------------
setup: system-packages $(STAMP) $(NODE_MODULES)/.installed

# Commands the book needs from the system: graphviz's dot (torchviz), npm (MathJax).
system-packages:
	@$(call need,dot:graphviz npm:npm)

# The browser tests also need Chromium (Debian's; never a downloaded browser).
browser:
	@$(call need,chromium:chromium)

# $(call need,cmd:package ...): install the missing packages with apt-get as root,
# otherwise stop with a one-line instruction.
define need
missing=""; for pair in $(1); do \
  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "installing system packages:$$missing"; \
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
  else \
    echo "missing system packages:$$missing — install them (e.g. sudo apt-get install$$missing) and re-run"; \
    exit 1; \
  fi; \
fi
endef

# Every package from the lock, each checked against its hash; then anything the lock
# does not list (left from an older lock) is removed, so the venv is exactly the lock.
$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements.lock into $(VENV) …"
	@$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes \
	  --no-deps -r requirements.lock
	@$(BIN)/python tests/lockfile.py sync
	@touch $@

# requirements.txt (edited by people) -> requirements.lock (generated, with hashes).
lock: $(STAMP)
	@$(BIN)/uv pip compile requirements.txt --quiet --generate-hashes --universal \
	  --python-version 3.11 --custom-compile-command "make lock" -o requirements.lock
	@echo "requirements.lock regenerated: make setup installs it"

$(NODE_MODULES)/.installed: book/_ext/package.json book/_ext/package-lock.json
	@mkdir -p $(VENV)/npm
	@cp book/_ext/package.json book/_ext/package-lock.json $(VENV)/npm/
	@npm ci --silent --no-audit --no-fund --prefix $(VENV)/npm
	@touch $@

# --- the book ----------------------------------------------------------------------
# Renders the outputs committed in the notebooks (nbval proves they reproduce): the
# book never executes a chapter. Fails on any warning.
book: setup
	@$(BIN)/jupyter-book build . --warningiserror --keep-going --quiet
	@echo "built: _build/html/index.html (make serve to browse it)"

serve:
	@test -f _build/html/index.html || { echo "no site yet: run make book"; exit 1; }
	@echo "serving http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	@$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# Re-run notebooks top to bottom in place, normalise them, and record each run (time,
# result lines, versions) in notebooks/status.json for the book's status page.
execute: setup
	@$(BIN)/python tests/nbtools.py execute $(NB)

# --- checks ------------------------------------------------------------------------
lint: setup spell
	@$(BIN)/ruff check notebooks tests book/_ext
	@$(BIN)/python tests/nbtools.py check notebooks/*.ipynb

# Spelling of what people wrote: cell sources (not outputs), book pages, tests, docs.
spell: setup
	@rm -rf _build/spell
	@$(BIN)/python tests/nbtools.py sources _build/spell notebooks/*.ipynb
	@$(BIN)/codespell _build/spell book tests README.md CONTRIBUTING.md Makefile

test: setup browser lint book
	@$(BIN)/python -m pytest -p no:cacheprovider tests $(NB) $(NBVAL)

# A second venv with Colab's versions; every chapter copied alone into an empty folder
# and run top to bottom (no output comparison), deprecations in chapter code = errors.
$(COLAB_VENV)/.installed: tests/colab/requirements.txt
	@test -x $(COLAB_VENV)/bin/python || $(COLAB_PYTHON) -m venv $(COLAB_VENV)
	@echo "installing Colab's versions into $(COLAB_VENV) ($$($(COLAB_VENV)/bin/python -V)) …"
	@$(COLAB_VENV)/bin/python -m pip install -q --disable-pip-version-check \
	  -r tests/colab/requirements.txt
	@touch $@

test-colab: system-packages $(COLAB_VENV)/.installed
	@$(COLAB_VENV)/bin/python tests/colab_lane.py $(NB)

bench: setup
	@$(BIN)/python tests/benchmarks/bench_mnist.py

# Lighthouse (npm, locked in tests/audit/) with Debian's Chromium over every toc page of
# the built site, served with gzip: a table of the four scores and the page weights.
AUDIT_MODULES := $(VENV)/npm-audit/node_modules
$(AUDIT_MODULES)/.installed: tests/audit/package.json tests/audit/package-lock.json
	@mkdir -p $(VENV)/npm-audit
	@cp tests/audit/package.json tests/audit/package-lock.json $(VENV)/npm-audit/
	@npm ci --silent --no-audit --no-fund --prefix $(VENV)/npm-audit
	@touch $@

audit: book browser $(AUDIT_MODULES)/.installed
	@$(BIN)/python tests/audit/audit_site.py

clean:
	@rm -rf _build .pytest_cache notebooks/.ipynb_checkpoints
	@echo "removed _build (the venvs .venv and .venv-colab stay)"
