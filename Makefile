# Quick start: `make demo` runs the local stack with the seed sample; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install tools demo test lint bench schemas crds clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "fedstate needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "could not create $(VENV): on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: install
	$(BIN)/fedstate demo

test: install tools
	$(BIN)/pytest --numprocesses 2

# Programs the tests run besides Python: node runs the bootstrap script the agent hands a pod's mongo shell;
# curl runs the HTTP example of docs/platform-api.md;
# promtool (Debian's prometheus package) checks and unit-tests the alert rules in deploy/prometheus/. The
# package's own Prometheus service is not wanted: the tests run promtool only, so it is stopped and disabled
# where systemd started it (in a container, policy-rc.d keeps it from starting at all). chromium and
# chromedriver (Debian's chromium and chromium-driver) are the real browser the dashboard's tests drive.
# $(call apt_tool,COMMAND,PACKAGE[,THEN]): install PACKAGE with apt-get when COMMAND is missing (as root
# only), then run THEN.
apt_tool = command -v $(1) >/dev/null || { \
	command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] || \
		{ echo "the tests need $(1): install $(2) (on Debian: apt-get install $(2))"; exit 1; }; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; $(3) }

tools:
	@$(call apt_tool,node,nodejs)
	@$(call apt_tool,curl,curl)
	@$(call apt_tool,promtool,prometheus,systemctl disable --now prometheus >/dev/null 2>&1 || true;)
	@$(call apt_tool,chromium,chromium)
	@$(call apt_tool,chromedriver,chromium-driver)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python bench/e2e.py

schemas: install
	$(BIN)/python -m fedstate.schemas docs/schemas

# The CustomResourceDefinitions, from the pydantic models (tests/crdbridge checks they have not drifted).
crds: install
	$(BIN)/python -m fedstate_crdbridge.crds deploy/k8s/crds.yaml

clean:
	rm -rf $(VENV) .fedstate .pytest_cache .mypy_cache .ruff_cache
