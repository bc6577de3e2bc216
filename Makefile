# tracker-sync — everything a fresh clone needs is set up by these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-deep test-visual lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/tracker-sync demo demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check sync tests benchmarks
	$(BIN)/ruff format --check sync tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# Too slow for every push: the property tests at 10,000 examples each (CI runs 1,000).
test-deep: $(VENV)/.installed-test
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest -q tests/test_properties.py

# Tests that render (LibreOffice opening what the writer wrote, the report's PDF with Chinese
# text): on Debian as root, installs LibreOffice, a CJK font and poppler-utils first; elsewhere
# install them yourself (the tests skip, saying what is missing).
VISUAL_TESTS ?= tests/test_xlsx_libreoffice.py tests/test_weekly.py tests/test_summary_visual.py
VISUAL_PACKAGES := libreoffice-calc fonts-noto-cjk poppler-utils libharfbuzz-subset0
test-visual: $(VENV)/.installed-test
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -q --no-install-recommends $(VISUAL_PACKAGES) >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(VISUAL_PACKAGES) >/dev/null; }; \
	else echo "not root on Debian: install $(VISUAL_PACKAGES) yourself"; fi
	$(BIN)/python -m pytest -q -rs $(VISUAL_TESTS)

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
