# driverseat: the two commands that matter are `make run` and `make test`.
# Both install what is missing first (Debian packages with apt-get, Python packages into .venv).

VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: help run test deps bench lint clean

help:
	@echo "make run    start the daemon on \$$DISPLAY, or on a virtual display it starts itself"
	@echo "make test   install what is missing and run the whole test suite (starts its own Xvfb)"
	@echo "make bench  run the benchmarks (each prints one JSON line)"
	@echo "make lint   ruff + mypy"

deps:
	@VENV=$(VENV) EXTRAS=test ./scripts/install-deps.sh

run: deps
	@if [ -z "$$DISPLAY" ]; then \
	  exec $(PY) -m daemon.cli serve --virtual-display 1920x1080 $(ARGS); \
	else \
	  exec $(PY) -m daemon.cli serve $(ARGS); \
	fi

test: deps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: deps
	$(PY) bench/yield_latency.py
	$(PY) bench/screenshot.py
	$(PY) bench/locate.py
	$(PY) bench/a11y_lookup.py
	$(PY) bench/overlay_latency.py
	$(PY) bench/fuzz_api.py --examples 300
	$(PY) bench/record.py

lint: deps
	$(VENV)/bin/python -m pip install -q ruff mypy
	$(VENV)/bin/ruff check capture daemon overlay tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
