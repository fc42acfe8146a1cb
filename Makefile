# Every install step lives here; a fresh machine needs only Python 3.11, Node 20 and the package registries.
PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
MC      := $(VENV)/bin/margo-conformance
STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# pytest-xdist workers for `make test` (2 cores on the reference machine).
WORKERS ?= 2
DEMO    := reports/demo
# The demo certifies the reference WFM under both profiles and the reference device.
DEMO_RUNS := $(DEMO)/wfm $(DEMO)/wfm-miaf-rc3 $(DEMO)/device $(DEMO)/device-miaf-rc3
# `make report RUN=reports/<dir>`: which run to render (default: the demo runs).
RUN     ?=

.PHONY: setup setup-node test unit wheel demo report bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup-node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

test: setup setup-node
	$(PY) -m pytest -n $(WORKERS) --dist worksteal tests/suites tests

# The fast tier while developing: everything except whole-suite runs, kill matrices and slow end-to-end tests.
unit: setup setup-node
	$(PY) -m pytest -n $(WORKERS) --dist worksteal -m "not suite and not slow" tests

# The product: a wheel that carries the suites' data (dist/margo_conformance-<version>-py3-none-any.whl).
wheel: setup
	$(PY) -m pip wheel --no-deps --no-build-isolation -q -w dist .
	@ls -l dist/*.whl

# Certify both built-in references under both profiles (the harness plays the device, then the WFM) and build the
# reports.
demo: setup setup-node
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(MC) run --role wfm --sut builtin --output $(DEMO)/wfm
	$(MC) run --role wfm --sut builtin --profile miaf-rc3 --output $(DEMO)/wfm-miaf-rc3
	$(MC) run --role device --sut builtin --output $(DEMO)/device
	$(MC) run --role device --sut builtin --profile miaf-rc3 --output $(DEMO)/device-miaf-rc3
	for d in $(DEMO_RUNS); do $(MC) report $$d || exit $$?; done
	@echo
	@echo "Conformance summaries: $(foreach d,$(DEMO_RUNS),$(d)/summary.md)"
	@echo "HTML reports (open from disk): $(foreach d,$(DEMO_RUNS),$(d)/allure-report/index.html)"

report: setup setup-node
	@if [ -n "$(RUN)" ]; then $(MC) report $(RUN); \
	else for d in $(DEMO_RUNS); do $(MC) report $$d || exit $$?; done; fi

bench: setup
	$(PY) benchmarks/httpsig_bench.py
	$(PY) benchmarks/wfm_throughput.py
	$(PY) benchmarks/load_generator.py

clean:
	rm -rf $(VENV) node_modules reports/demo .pytest_cache dist
