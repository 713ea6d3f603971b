# Fresh-machine entry points: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test docs figures benchmarks gpu-check

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/tensorkit demo --out tensorkit_demo.nc --overwrite

test: install
	$(BIN)/python -m pytest

docs: install
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	$(BIN)/python docs/render_notebooks.py docs/_build/html/notebooks

figures: install
	$(BIN)/python docs/make_figures.py

benchmarks: install
	$(BIN)/python -m benchmarks

# On a CUDA node (< 8 min on one H100/H200): writes benchmarks/results/gpu.md
gpu-check: install
	$(BIN)/python -m benchmarks.gpu
