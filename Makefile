# The two set-up commands of README:
#   make report   a real report (a private demo engine if none is reachable)
#   make test     the whole test suite (lint, types, unit and real-engine tests)
BIN := .venv/bin

.PHONY: setup setup-report report test lint unit record image

setup:
	@bash .ci/setup

setup-report:
	@bash .ci/setup-report

report: setup-report
	@$(BIN)/python examples/demo.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# The inner loop: library and CLI, no engine, no JVM, no browser, on both cores (about 13 s on 2 cores).
unit: setup
	$(BIN)/python -m pytest -q -n 2 tests/unit -m "not slow and not browser"

# Re-record the unit tests' corpus from a fresh private engine (root): the system's dockerd, or
# ENGINE=28.5-overlay2 / 29.7-overlay2 (an engine .ci/setup unpacks).
record: setup
	@if [ -n "$(ENGINE)" ]; then \
	  $(BIN)/python tests/record_corpus.py --engine $(ENGINE) tests/data/corpus-engine-$(ENGINE).json; \
	else \
	  $(BIN)/python tests/record_corpus.py tests/data/corpus-engine-$$(dockerd --version | sed -E 's/.*version ([0-9]+\.[0-9]+).*/\1/').json; \
	fi

# layershare's container image, built without network from wheels fetched here first:
#   make image [BASE=python:3.12-slim] [EXTRAS=fleet]   (any image with python3 and python3 -m venv;
#   EXTRAS=fleet adds DuckDB and Arrow as layershare:VERSION-fleet, for export and fleet)
image:
	@BASE="$(BASE)" EXTRAS="$(EXTRAS)" bash .ci/image
