# Two commands matter on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3.12
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint fuzz bench package scaffold clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)  ## serve the plugin on http://127.0.0.1:5002 with demo apps, no Dify needed
	$(PY) -m devkit serve $(ARGS)

test: $(STAMP)  ## lint, then every test (unit, subprocess, browser)
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fuzz: $(STAMP)  ## Hypothesis over the whole endpoint, in-process and through the plugin process: >= 10,000 examples
	RELAY_FUZZ_PROFILE=fuzz $(PY) -m pytest tests/fuzz -q

bench: $(STAMP)  ## relay throughput and latency as ratios against a baseline measured in the same run
	$(PY) -m devkit bench

package: $(STAMP)  ## dist/<name>-<version>.difypkg, validated
	$(PY) -m devkit package

scaffold: $(STAMP)  ## rename the plugin: make scaffold NAME=my_plugin AUTHOR=me [LABEL="My Plugin"] [MINIMAL=1]
	$(PY) -m devkit scaffold --name "$(NAME)" --author "$(AUTHOR)" $(if $(LABEL),--label "$(LABEL)") $(if $(MINIMAL),--minimal)

clean:
	rm -rf $(VENV) dist test-output .pytest_cache .ruff_cache
