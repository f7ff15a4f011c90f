# Every target sets up its own virtualenv first; only Python 3.11 and make are assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: setup run test test-fast lint fmt bench faults lock clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

setup: $(STAMP)  ## create .venv and install Tessera with its pinned dependencies

run: setup  ## start the whole system (embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL)
	$(BIN)/tessera up

test: setup lint  ## lint, then the whole test suite (unit, integration, e2e, smoke sizes)
	$(BIN)/pytest

test-fast: setup  ## only the pure unit tests
	$(BIN)/pytest -m unit

lint: setup  ## ruff (lint + format check) and mypy (strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: setup  ## format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup  ## the benchmark scenarios at full size (writes bench-results.json)
	$(BIN)/python -m benchmarks

faults: setup  ## the long fault-injection run
	$(BIN)/pytest -m slow tests/faults

lock: setup  ## re-pin every dependency into constraints.txt
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
