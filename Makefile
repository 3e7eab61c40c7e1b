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

.PHONY: all venv install proto check-protos lint run serve test bench reliability clean

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

# Schema lint (buf STANDARD rules, protos/buf.yaml) and generated-code freshness.
lint: $(STAMP)
	cd protos && ../$(VENV)/bin/buf lint
	$(PY) tools/gen_protos.py --check

# Serve the default data root with sample data on $(PORT).
run serve: $(STAMP)
	@test -f $(GEN)/datapack/v1/datapack_pb2.py || $(PY) tools/gen_protos.py
	$(PY) tools/seed_sample_data.py $(DATA)
	$(VENV)/bin/datapack serve --data-dir $(DATA) --host 127.0.0.1 --port $(PORT)

test: $(STAMP)
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
