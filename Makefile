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

.PHONY: run test lint bench clean compile run-compiled test-compiled bench-compiled

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

# The optional mypyc build (setup.py, SIPTM_COMPILE=1), out of tree: the compiled wheel
# unpacked in build/compiled/lib (the whole package, the hot modules as extensions). The
# source tree never gets .so files, so `make test` always tests the .py files. The path
# is absolute: the e2e tests start `siptm run` in other directories (PYTHONPATH inherited).
COMPILED := $(CURDIR)/build/compiled

compile: $(STAMP)
	rm -rf $(COMPILED) && mkdir -p $(COMPILED)
	SIPTM_COMPILE=1 $(BIN)/python -m pip wheel -q --no-deps -w $(COMPILED) .
	$(BIN)/python -m zipfile -e $(COMPILED)/siptm-*.whl $(COMPILED)/lib

run-compiled: compile
	PYTHONPATH=$(COMPILED)/lib $(BIN)/siptm run

test-compiled: compile
	SIPTM_EXPECT_COMPILED=1 PYTHONPATH=$(COMPILED)/lib $(BIN)/python -m pytest

bench-compiled: compile
	PYTHONPATH=$(COMPILED)/lib $(BIN)/python bench/proxy_call.py --per-message

clean:
	rm -rf $(VENV) build src/*.egg-info
