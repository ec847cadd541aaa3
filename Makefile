# driverseat: the two commands that matter are `make run` and `make test`.
# Both install what is missing first (Debian packages with apt-get, Python packages into .venv).

VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
# on a machine without a display, `make run` serves the desktop to a browser (/view);
# `make run VIEW=` turns that off
VIEW ?= --view
PYTEST_ARGS ?=

.PHONY: help run test deps bench lint mutate clean

help:
	@echo "make run    start the daemon on \$$DISPLAY, or on a virtual display it starts itself"
	@echo "           (then with the live view: \`driverseat view\` prints the page's address)"
	@echo "make test   install what is missing and run the whole test suite (starts its own Xvfb)"
	@echo "make bench  run the benchmarks (each prints one JSON line)"
	@echo "make lint   ruff + mypy"
	@echo "make mutate mutation testing of the safety core (slow, not in CI; docs/mutation.md)"

deps:
	@VENV=$(VENV) EXTRAS=test ./scripts/install-deps.sh

run: deps
	@if [ -z "$$DISPLAY" ]; then \
	  exec $(PY) -m daemon.cli serve --virtual-display 1920x1080 $(VIEW) $(ARGS); \
	else \
	  exec $(PY) -m daemon.cli serve $(ARGS); \
	fi

test: deps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: deps
	$(PY) bench/yield_latency.py
	$(PY) bench/guard_cost.py
	$(PY) bench/screenshot.py
	$(PY) bench/locate.py
	$(PY) bench/a11y_lookup.py
	$(PY) bench/overlay_latency.py
	$(PY) bench/question_latency.py
	$(PY) bench/fuzz_api.py --examples 300
	$(PY) bench/record.py
	$(PY) bench/dialect_answer.py
	$(PY) bench/api_latency.py
	$(PY) bench/liveview.py

lint: deps
	$(VENV)/bin/python -m pip install -q ruff mypy
	$(VENV)/bin/ruff check capture daemon overlay tests bench
	$(VENV)/bin/mypy

# Mutation testing of the safety core (the modules in [tool.mutmut] of pyproject.toml) against
# their fast unit tests. Slow, so not part of `make test` or CI. Starts from scratch every time,
# because mutmut keeps a survivor's verdict even after new tests would kill it;
# MUTANTS='daemon.control.view*' limits a run to the mutants whose names match.
MUTANTS ?=
MUTATE_JOBS ?= 2
mutate: deps
	@test -x $(VENV)/bin/mutmut || $(PY) -m pip install -q -e ".[dev]"
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS) $(MUTANTS) > .mutmut.log 2>&1 \
	  || { tail -n 40 .mutmut.log; exit 1; }
	@grep -a "mutations/second" .mutmut.log || true
	@$(PY) scripts/mutation_score.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info mutants .mutmut.log
