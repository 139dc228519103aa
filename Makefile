# adhoc-bridge: the two commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench bench-instructions clean system-deps-run system-deps-test

# Debian packages the service and its tests need, as "command:package". Missing ones are installed with
# apt-get when make runs as root; otherwise make stops with the exact command to run.
RUN_DEBS := janus:janus
TEST_DEBS := $(RUN_DEBS) baresip:baresip-core sipp:sip-tester kamailio:kamailio chromium:chromium \
	chromedriver:chromium-driver

define need_debs
	@missing=""; for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y --no-install-recommends$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

system-deps-run:
	$(call need_debs,$(RUN_DEBS))

system-deps-test:
	$(call need_debs,$(TEST_DEBS))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) system-deps-run
	$(BIN)/python -m app

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system-deps-test
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

bench-instructions: $(STAMP)
	$(call need_debs,valgrind:valgrind callgrind_control:valgrind)
	$(BIN)/python -m bench.instructions

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
