# Two commands matter on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3.12
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run test check lint fuzz bench package scaffold clean

# Two stamps: `make run` needs only what the plugin itself runs on (quick on a fresh machine); the tests and tools
# add their own pinned requirements on top.
$(RUNTIME): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $(RUNTIME)

$(STAMP): $(RUNTIME) requirements-test.txt requirements-tools.txt
	$(PIP) -r requirements-tools.txt
	touch $(STAMP)

run: $(RUNTIME)  ## serve the plugin on http://127.0.0.1:5002 with demo apps, no Dify needed
	$(PY) -m devkit serve $(ARGS)

test: $(STAMP)  ## lint and format check, then every test (unit, subprocess, browser) on every core
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

check: $(STAMP)  ## the inner loop, under a minute: lint, the unit tests, the plugin's declarations
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -x tests/unit tests/test_plugin_declaration.py tests/test_relay_declaration.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fuzz: $(STAMP)  ## Hypothesis over the whole endpoint, in-process and through the plugin process: >= 10,000 examples
	RELAY_FUZZ_PROFILE=fuzz $(PY) -m pytest tests/fuzz -q

bench: $(STAMP)  ## relay throughput and latency as ratios against a baseline measured in the same run; page rendering
	$(PY) -m bench $(ARGS)
	$(PY) -m bench.rendering

package: $(STAMP)  ## dist/<name>-<version>.difypkg, validated
	$(PY) -m devkit package

scaffold: $(STAMP)  ## rename the plugin: make scaffold NAME=my_plugin AUTHOR=me [LABEL="My Plugin"] [MINIMAL=1]
	$(PY) -m devkit scaffold --name "$(NAME)" --author "$(AUTHOR)" $(if $(LABEL),--label "$(LABEL)") $(if $(MINIMAL),--minimal)

clean:
	rm -rf $(VENV) dist test-output .pytest_cache .ruff_cache
