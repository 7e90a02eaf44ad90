# The README's commands. Every target sets up .venv from the pinned lock first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LAKE   ?= data/lake

.PHONY: setup run test docs lint format bench clean chromium

PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# pip's and the build backend's chatter goes to a log, shown only when a step fails
LOG    := $(VENV)/install.log
QUIET  := >>$(LOG) 2>&1 || { cat $(LOG); exit 1; }

$(STAMP): pyproject.toml requirements.lock
	@echo "setting up $(VENV) from requirements.lock (first time: a few minutes)"
	@$(PYTHON) -m venv $(VENV)
	@: > $(LOG)
	@$(PIP) --upgrade pip $(QUIET)
	@$(PIP) -r requirements.lock $(QUIET)
	@$(PIP) --no-deps -e . $(QUIET)
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/depeche run data/sample --lake $(LAKE)
	$(BIN)/depeche report --lake $(LAKE)

# the browser the report's test drives (Debian's package: Playwright downloads none)
chromium: $(STAMP)
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the report's browser test"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq $(QUIET) && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium $(QUIET); }

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# the manual as a site, into site/; strict: a broken link or anchor fails the build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.model_load
	$(BIN)/python -m bench.marts
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.stories
	$(BIN)/python -m bench.quotes
	$(BIN)/python -m bench.voices
	$(BIN)/python -m bench.voices_cost
	$(BIN)/python -m bench.cluster
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.lake_age
	$(BIN)/python -m bench.code_shape

clean:
	rm -rf $(VENV) $(LAKE) site
