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
# MathJax is served by the site itself (no CDN): fetched once from the npm registry.
MATHJAX_VERSION := 3.2.2
MATHJAX_SRC := $(VENV)/npm/node_modules/mathjax/es5
MATHJAX_OUT := _build/assets/mathjax
# Notebooks to execute (make execute NB=notebooks/01_tensors.ipynb); default: the toc's.
NB ?= $(shell $(BIN)/python tests/nbtools.py toc)
# nbval compares every stored output; this file normalises addresses and ids first.
NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=600 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help setup system-packages browser book serve execute test lint clean bench

help:
	@echo "make book     build the website into _build/html (the main job)"
	@echo "make test     everything CI checks: lint, book, structure, nbval, site tests"
	@echo "make serve    serve _build/html on http://127.0.0.1:$(PORT)/"
	@echo "make execute  re-run notebooks in place (NB=notebooks/NN_x.ipynb for one)"
	@echo "make lint     ruff over notebooks and tests"
	@echo "make bench    MNIST benchmark: notes' MLP vs fixed MLP vs CNN"
	@echo "make setup    create .venv and install everything (done by book/test)"
	@echo "make clean    remove build outputs (keeps .venv)"

# --- installation ----------------------------------------------------------------
setup: system-packages $(STAMP) $(MATHJAX_SRC)/tex-mml-chtml.js

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

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing requirements.txt into $(VENV) …"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(MATHJAX_SRC)/tex-mml-chtml.js:
	@mkdir -p $(VENV)/npm
	@npm install --silent --no-audit --no-fund --prefix $(VENV)/npm mathjax@$(MATHJAX_VERSION)

# The combined TeX component, the TeX extensions it loads on demand (\boldsymbol …),
# its fonts, and the menu/accessibility parts it may load.
$(MATHJAX_OUT)/tex-mml-chtml.js: $(MATHJAX_SRC)/tex-mml-chtml.js
	@mkdir -p $(MATHJAX_OUT)/output/chtml $(MATHJAX_OUT)/input/tex
	@cp -r $(MATHJAX_SRC)/ui $(MATHJAX_SRC)/a11y $(MATHJAX_OUT)/
	@cp -r $(MATHJAX_SRC)/input/tex/extensions $(MATHJAX_OUT)/input/tex/
	@cp -r $(MATHJAX_SRC)/output/chtml/fonts $(MATHJAX_OUT)/output/chtml/
	@cp $(MATHJAX_SRC)/tex-mml-chtml.js $(MATHJAX_OUT)/

# --- the book ----------------------------------------------------------------------
# Fails on any cell error (only cells tagged raises-exception may raise) or warning.
book: setup $(MATHJAX_OUT)/tex-mml-chtml.js
	@$(BIN)/jupyter-book build . --warningiserror --keep-going --quiet
	@echo "built: _build/html/index.html (make serve to browse it)"

serve:
	@test -f _build/html/index.html || { echo "no site yet: run make book"; exit 1; }
	@echo "serving http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	@$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# Re-run notebooks top to bottom in place, then normalise their metadata.
execute: setup
	@$(BIN)/python tests/nbtools.py execute $(NB)

# --- checks ------------------------------------------------------------------------
lint: setup
	@$(BIN)/ruff check notebooks tests book/_ext

test: setup browser lint book
	@$(BIN)/python -m pytest -p no:cacheprovider tests $(NB) $(NBVAL)

bench: setup
	@$(BIN)/python tests/benchmarks/bench_mnist.py

clean:
	@rm -rf _build .pytest_cache notebooks/.ipynb_checkpoints
	@echo "removed _build (the venv .venv stays; rm -rf .venv to reinstall)"
