# fitscope — two commands: `make run` and `make test`.
# The venv is built with the first Python >= 3.12 found on this machine (each candidate is *run*,
# since a pyenv shim can exist and still fail).

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

export QT_API := pyside6

.PHONY: run test slow stress bench lint screenshots clean

$(PY):
	@py=$$(sh scripts/find-python.sh) || exit 1; \
	echo "Creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e .
	@touch $@

$(TSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@

run: $(STAMP)
	$(VENV)/bin/fitscope

test: $(TSTAMP)
	$(VENV)/bin/ruff check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

# The slow tests: real TensorFlow.js (installed with npm into a temporary folder; skipped without Node.js
# and npm) runs the exact code of runs and must print the engine's losses; Keras too where it is installed.
slow: $(TSTAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m slow

# The long hostile cases: big files near the size cap, signals at many random moments of real runs.
stress: $(TSTAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m stress

bench: $(TSTAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks

lint: $(TSTAMP)
	$(VENV)/bin/ruff check .

screenshots: $(STAMP)
	$(PY) scripts/screenshots.py
	$(PY) scripts/see_why_shots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
