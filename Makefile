# Two commands: `make run` serves the API on the embedded fixtures, `make test` runs everything.
# Both bootstrap .venv themselves; `make install` does only that.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PY27 ?= $(shell for p in $$HOME/.pyenv/versions/2.7*/bin/python $$(command -v python2.7); do \
  [ -x "$$p" ] && "$$p" -c pass 2>/dev/null && { echo "$$p"; break; }; done)
PY27_CLIENT := $(VENV)/py27-infobip-client

.PHONY: install run test lint typecheck pytest pythons bench clean py27-client system-deps soak prism

install: $(STAMP)

# Silent when all is well: pip speaks only to warn or fail (tests/test_packaging.py keeps the build warning-free).
# A machine whose pip configuration names a package folder that does not exist makes pip warn about it for
# every package; those lines (and only those) are dropped: they are the machine's, not the project's.
QUIET_PIP := set -o pipefail; $(PY) -m pip install --quiet
MACHINE_NOISE := grep -v "is ignored: it is neither a file nor a directory" || true
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(QUIET_PIP) --upgrade pip 2>&1 | { $(MACHINE_NOISE); }
	@$(QUIET_PIP) -e '.[dev]' 2>&1 | { $(MACHINE_NOISE); }
	@$(BYTECODE)
	@touch $(STAMP)

# pip compiles an installed package's bytecode, but not an editable one's: with PYTHONDONTWRITEBYTECODE set
# (as in the Dockerfile, and on many CI machines) every start would compile the package again (about 0.1 s
# of a 0.3 s cold start). Quick when nothing changed.
BYTECODE := $(PY) -m compileall -q mock_omni

run: install
	@$(BYTECODE)
	$(VENV)/bin/mock-omni serve

# The official client (Python 2.7) for the compatibility test; skipped by the test where 2.7 is absent.
py27-client:
	@if [ -n "$(PY27)" ] && [ ! -d $(PY27_CLIENT)/infobip ]; then \
	  $(PY27) -m pip install --quiet --disable-pip-version-check --target $(PY27_CLIENT) \
	    infobip-api-python-client==2.3.0 'jsonpickle<2' >/dev/null 2>&1 || echo "warning: could not install the Python 2.7 client"; \
	fi

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

system-deps:
	@bash scripts/system-deps.sh

# Prism (npm @stoplight/prism-cli) serves the vendor's OpenAPI as a stand-in upstream for tests/test_upstream.py;
# installed into .cache/prism with the machine's npm (a pinned major), once.
PRISM := .cache/prism/node_modules/.bin/prism
prism: $(PRISM)
$(PRISM):
	@command -v npm >/dev/null || { echo "prism: npm is needed (apt-get install npm)" >&2; exit 1; }
	@mkdir -p .cache/prism && npm install --prefix .cache/prism --no-audit --no-fund --silent @stoplight/prism-cli@5 >/dev/null

pytest: install py27-client system-deps prism
	MOCK_OMNI_PY27="$(PY27)" MOCK_OMNI_PY27_CLIENT="$(PY27_CLIENT)" $(PY) -m pytest -n 2 -p no:cacheprovider

# Every Python version pyproject.toml declares (its classifiers) other than the venv's runs the smoke of
# sending, reports, a pushed webhook and the plugin (tests/test_smoke.py), and the XML parser's check against the
# version's own ElementTree (tests/test_xml_parser.py), in a venv of its own, .venv-X.Y.
# Interpreters come from pyenv or PATH; a declared version that is missing fails the run: it is not tested.
DECLARED := $(shell sed -n 's/.*"Programming Language :: Python :: \(3\.[0-9]*\)".*/\1/p' pyproject.toml)
pythons: install
	@own=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	for v in $(DECLARED); do \
	  [ "$$v" = "$$own" ] && continue; \
	  py=$$(for p in $$HOME/.pyenv/versions/$$v.*/bin/python $$(command -v python$$v); do \
	    [ -x "$$p" ] && "$$p" -c pass 2>/dev/null && { echo "$$p"; break; }; done); \
	  if [ -z "$$py" ]; then echo "Python $$v is declared in pyproject.toml but not installed here" >&2; exit 1; fi; \
	  venv=.venv-$$v; \
	  if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	    { test -x $$venv/bin/python || "$$py" -m venv $$venv; } && \
	    { $(QUIET_PIP:$(PY)=$$venv/bin/python) --upgrade pip 2>&1 | { $(MACHINE_NOISE); }; } && \
	    { $(QUIET_PIP:$(PY)=$$venv/bin/python) -e '.[smoke]' 2>&1 | { $(MACHINE_NOISE); }; } && \
	    touch $$venv/.installed || exit 1; \
	  fi; \
	  echo "smoke on Python $$v"; \
	  $$venv/bin/python -m pytest -p no:cacheprovider -q tests/test_smoke.py tests/test_xml_parser.py || exit 1; \
	done

test: lint typecheck pytest pythons

# The hardening soak for longer than make test's few seconds (MOCK_OMNI_SOAK_SECONDS, default 60), and the
# sending soak with 100,000 messages past the default message bound.
soak: install
	MOCK_OMNI_SOAK_SECONDS=$${MOCK_OMNI_SOAK_SECONDS:-60} MOCK_OMNI_SOAK_HOSTILE_ROUNDS=$${MOCK_OMNI_SOAK_HOSTILE_ROUNDS:-10} $(PY) -m pytest -p no:cacheprovider -s tests/hardening/test_soak.py
	MOCK_OMNI_SEND_SOAK_MESSAGES=$${MOCK_OMNI_SEND_SOAK_MESSAGES:-100000} MOCK_OMNI_SEND_SOAK_LIMIT=$${MOCK_OMNI_SEND_SOAK_LIMIT:-10000} $(PY) -m pytest -p no:cacheprovider -s tests/hardening/test_sending_soak.py

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-3.* .cache build *.egg-info .pytest_cache .mypy_cache .ruff_cache
