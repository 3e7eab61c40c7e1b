# Developer verbs. `make run` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
GEN    := client/datapack_client/proto
PROTOS := $(wildcard protos/datapack/v1/*.proto)
PORT   ?= 50051
DATA   ?= data/datapacks
RELEASED_PROTOS := protos/released/datapack-v1.binpb
NODE_DEPS := clients/node/node_modules/.installed

.PHONY: all venv install proto check-protos release-protos lint node-deps run serve test bench reliability clean

all: test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

venv install: $(STAMP)

# Regenerate the wire code from protos/ (committed; `check-protos` proves it fresh).
proto: $(STAMP)
	$(PY) tools/gen_protos.py

# Fails when the committed generated code differs from what protos/ produce.
check-protos: $(STAMP)
	$(PY) tools/gen_protos.py --check

# Schema lint (buf STANDARD rules, protos/buf.yaml), wire compatibility with the
# last released schema (buf breaking, FILE rules, against the committed snapshot:
# works offline and on a fresh clone, unlike a git tag), generated-code freshness,
# ruff on server/ and client/, mypy on the domain folders (rules in pyproject.toml).
lint: $(STAMP)
	cd protos && ../$(VENV)/bin/buf lint
	$(VENV)/bin/buf breaking protos --against $(RELEASED_PROTOS)
	$(PY) tools/gen_protos.py --check
	$(VENV)/bin/ruff check server client
	$(VENV)/bin/mypy
	@if command -v node >/dev/null 2>&1; then node --check clients/node/append_and_query.js; fi

# When releasing: the current protos become the baseline `make lint` checks against.
release-protos: $(STAMP)
	$(VENV)/bin/buf build protos -o $(RELEASED_PROTOS)

# The Node.js client's pinned dependencies (clients/node/package-lock.json), for
# tests/test_node_client.py; re-installed only when the lock file changes.
# Without npm the Node client test is skipped, and this says so.
node-deps:
	@if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(NODE_DEPS); \
	else \
	  echo "node/npm not found: the Node.js client test (tests/test_node_client.py) will be skipped"; \
	fi

$(NODE_DEPS): clients/node/package.json clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	touch $@

# Serve the default data root with sample data on $(PORT).
run serve: $(STAMP)
	@test -f $(GEN)/datapack/v1/datapack_pb2.py || $(PY) tools/gen_protos.py
	$(PY) tools/seed_sample_data.py $(DATA)
	$(VENV)/bin/datapack serve --data-dir $(DATA) --host 127.0.0.1 --port $(PORT)

test: $(STAMP) node-deps
	$(PY) tools/gen_protos.py --check
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# Long reliability checks (kill -9 storms, power loss, fuzzing, a 30-minute soak);
# their fast variants are part of `make test`. RELIABILITY_ARGS=--quick for ~5 minutes.
reliability: $(STAMP)
	$(PY) -m reliability.run $(RELIABILITY_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
