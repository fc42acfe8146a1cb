# Every install step lives here; a fresh machine needs only Python 3.11, Node 20 and the registries.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# pytest-xdist workers: 2 cores on the reference machine.
WORKERS ?= auto

.PHONY: setup test demo report clean bench

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

test: setup
	$(PY) -m pytest -n $(WORKERS) tests

demo: setup
	@echo "make demo: the conformance run arrives with the WFM suite (issue 'WFM conformance suite')."
	$(VENV)/bin/margo-conformance requirements --profile httpsig-2026h1

bench: setup
	$(PY) benchmarks/httpsig_bench.py

clean:
	rm -rf $(VENV) reports/* .pytest_cache
