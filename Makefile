# Two commands on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
DEMO := runs/demo

.PHONY: demo test test-fast install dev data browser lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

# Fashion-MNIST: Debian's package where we may install it, else the official files (verified).
data: install
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) || true; \
	fi
	$(BIN)/autoencode datasets --fetch

# The seed's whole workflow on the real data (`autoencode demo`): 3½ minutes on 2 CPU cores from a fresh clone.
demo: data
	$(BIN)/autoencode demo --out $(DEMO)

# The explorer page's tests run in a real headless browser: Debian's chromium and its driver,
# installed where we may (root with apt-get), else those tests skip saying what to install.
browser:
	@if ! { command -v chromium && command -v chromedriver; } >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver (the page tests' browser)"; \
		apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "could not install chromium: the page tests will skip"; \
	fi

test: dev browser
	$(BIN)/python -m pytest -q

# Everything but the tests marked slow (real data, subprocesses, long training).
test-fast: dev browser
	$(BIN)/python -m pytest -q -m "not slow"

lint: dev
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/seed_vs_keras.py

clean:
	rm -rf $(VENV) runs .pytest_cache
