# The README's two commands: `make run` and `make test`. Everything is installed into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP_CORE := $(VENV)/.installed-core
STAMP_TEST := $(VENV)/.installed-test
PO_FILES := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test install install-test install-mt migrate demo train serve compile-catalogs i18n-check lint clean

run: install compile-catalogs migrate demo train serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"

$(STAMP_CORE): pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml $(STAMP_CORE)
	$(PIP) install --quiet -e ".[test,mt]"
	touch $@

install: $(STAMP_CORE)

install-test: $(STAMP_TEST)

install-mt: $(STAMP_CORE)
	$(PIP) install --quiet -e ".[mt]"

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po | $(STAMP_CORE)
	$(BIN)/witaj i18n compile

compile-catalogs: $(MO_FILES)

migrate: install
	$(BIN)/witaj db upgrade

demo: install
	$(BIN)/witaj demo load

train: install
	$(BIN)/witaj dialogues train

serve: install
	$(BIN)/witaj serve

# The suite runs in one process per core (pytest-xdist; a test file stays in one process, so its
# module fixtures - a live site, a browser context - are built once). TEST_WORKERS=0 runs in this
# process alone (pdb, -x on the first failure in order).
TEST_WORKERS ?= auto
test: install-test compile-catalogs
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

i18n-check: install compile-catalogs
	$(BIN)/witaj i18n check

lint: install
	$(PIP) install --quiet -e ".[dev]"
	$(BIN)/ruff check app tests bench

clean:
	rm -rf $(VENV) var .pytest_cache
	find . -name '*.mo' -delete
