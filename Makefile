# Set-up and checks. `make run` and `make test` work on a fresh clone.
# The interpreter for .venv: the system's python3 when it is 3.11+ and can make a venv
# (Debian and Ubuntu build theirs with PGO, LTO and -Bsymbolic-functions; pyenv's default
# build has none of them and runs the proxy's hot path 8-17% slower), else python3 on PATH.
# Override with `make PYTHON=/path/to/python3 ...`.
PYTHON ?= $(or $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done),python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,speed]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/siptm run

test: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/parse.py

clean:
	rm -rf $(VENV) build src/*.egg-info
