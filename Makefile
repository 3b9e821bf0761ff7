# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test index eval bench-scifact install install-test clean

# -qq: pip says nothing but errors (build back-ends' notes about editable installs included);
# the echo lines are the progress.
PIP := $(BIN)/pip install -qq

$(BIN)/python:
	@echo "Creating $(VENV)/ ..."
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip

# torch first, pinned: the CPU build is the one pip finds locally (a plain `torch`
# would pull several GB of CUDA packages).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing torch (CPU) ..."
	@$(PIP) torch==2.13.0
	@echo "Installing the assistant and its libraries ..."
	@$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "Installing torch (CPU) ..."
	@$(PIP) torch==2.13.0
	@echo "Installing the assistant, its libraries and the test tools ..."
	@$(PIP) -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

index: install
	$(BIN)/assistant index corpus

run: install
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/assistant eval eval/questions.jsonl

bench-scifact: install
	$(BIN)/assistant bench scifact ../shared/benchmarks/scifact

clean:
	rm -rf $(VENV) index/manifest.json index/letters index/gen-*
