# Two commands set up everything on a fresh machine:
#   make demo   creates .venv, installs cfgtrack, runs the tracked example and shows the record
#   make test   installs system packages (chromium, postgresql) when missing, the test extras,
#               then runs lint + the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cfgtrack-installed

.PHONY: demo test lint bench clean install system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/train.py
	$(PY) examples/train.py --multirun model=logreg,forest env=prod
	$(VENV)/bin/cfgtrack runs --limit 5
	@echo
	$(VENV)/bin/cfgtrack show
	@echo "Everything above is in $(CURDIR)/mlflow.db. Browse it with:"
	@echo "  $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db"
	@echo "or show any run:  $(VENV)/bin/cfgtrack show <run id>"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks

system-deps:
	bash scripts/install-system-deps.sh

test: system-deps lint
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) mlflow.db mlartifacts outputs multirun
