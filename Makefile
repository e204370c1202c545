# Two commands set up everything on a fresh machine:
#   make demo   creates .venv, installs cfgtrack, runs the tracked example, registers its model,
#               compares staging with prod and the model with prod, and writes a quarterly
#               audit of a backdated copy of the example
#   make test   installs system packages (chromium, postgresql) when missing, the test extras,
#               the Ray launcher's own virtualenv (.venv-ray), then runs lint + the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cfgtrack-installed
# hydra-ray-launcher needs cloudpickle<3, joblib>=1.6 (the joblib launcher) cloudpickle>=3: the
# Ray tests run their Hydra apps with this virtualenv's interpreter.
RAY_VENV := .venv-ray
RAY_STAMP := $(RAY_VENV)/.cfgtrack-installed

.PHONY: demo test lint bench clean install ray-venv system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

$(RAY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(RAY_VENV)
	$(RAY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RAY_VENV)/bin/python -m pip install --quiet -e ".[ray]"
	touch $(RAY_STAMP)

ray-venv: $(RAY_STAMP)

# cfgtrack diff exits 1 when it finds differences: that is the demo's point, not a failure
# (exit 2, bad input, still stops it).
FINDINGS_OK = || [ $$? -eq 1 ]
CFGTRACK := $(VENV)/bin/cfgtrack

demo: $(STAMP)
	$(PY) examples/train.py
	$(PY) examples/train.py --multirun model=logreg,forest env=prod
	$(CFGTRACK) runs --limit 5
	@echo
	$(CFGTRACK) show
	@echo
	$(PY) examples/register_model.py --name fraud --alias champion
	$(CFGTRACK) diff staging prod $(FINDINGS_OK)
	@echo
	$(CFGTRACK) diff models:/fraud@champion prod $(FINDINGS_OK)
	@echo
	@history=$$(mktemp -d)/cfgtrack-example && set -x \
	  && $(PY) examples/make_history.py $$history && cd $$history \
	  && $(abspath $(PY)) examples/train.py env=prod model.C=0.8 \
	  && $(abspath $(PY)) $(CURDIR)/examples/register_model.py --name fraud --alias champion \
	  && $(abspath $(CFGTRACK)) report --out $$history/cfgtrack-audit \
	  && { set +x; } 2>/dev/null \
	  && echo && echo "Quarterly audit of the backdated example: $$history/cfgtrack-audit/" \
	  && ls $$history/cfgtrack-audit/*.html
	@echo "The runs above are in $(CURDIR)/mlflow.db. Browse them with:"
	@echo "  $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db"
	@echo "or show any run:  $(CFGTRACK) show <run id>  (or models:/fraud@champion)"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/ruff format --check src tests examples benchmarks

system-deps:
	bash scripts/install-system-deps.sh

# An editable install leaves cfgtrack's own modules uncompiled, and with PYTHONDONTWRITEBYTECODE
# set every process of the suite would compile them again: compile them once (as pip does for
# the packages it installs); Python still recompiles any module edited since.
test: system-deps lint $(RAY_STAMP)
	$(PY) -m compileall -q src
	$(PY) -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(RAY_VENV) mlflow.db mlartifacts outputs multirun
