# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates the virtual environment if it is missing and installs the package into it
# with pip (pip takes torch and torchvision from the wheels on disk where there are some).
# VENV may point anywhere, e.g. `make test VENV=~/.cache/captum-explainer/venv`.

VENV ?= .venv
PYTHON ?= python3
OUT ?= demo-output
# The optional extras installed beside the package; CI adds those whose tests it runs
# (e.g. EXTRAS=test,coco,hf,timm,bench).
EXTRAS ?= test,coco
BIN := $(VENV)/bin
# One stamp per (checkout, venv, extras): an editable install points at this checkout, so a
# venv shared between clones must be re-pointed whenever the checkout is new.
comma := ,
STAMP := .make/installed$(subst /,_,$(abspath $(VENV)))_$(subst $(comma),_,$(EXTRAS))

.PHONY: demo test lint format install docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	@mkdir -p .make && touch $@

demo: $(STAMP)
	$(BIN)/captum-explainer demo --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check captum_explainer tests examples benchmarks
	$(BIN)/ruff format --check captum_explainer tests examples benchmarks

# The guides and the API reference from the docstrings, warnings as errors, into docs/_build.
docs: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[docs]"
	$(BIN)/python -m sphinx -b html -W --keep-going -q docs docs/_build/html

format: $(STAMP)
	$(BIN)/ruff format captum_explainer tests examples benchmarks
	$(BIN)/ruff check --fix captum_explainer tests examples benchmarks

clean:
	rm -rf .make $(OUT) .pytest_cache docs/_build
