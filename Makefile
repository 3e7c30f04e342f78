# edgeshare: the two commands are `make export` and `make test`; each installs .venv first when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgeshare-installed
BUILD ?= build
PYTEST_ARGS ?=

.PHONY: install test lint typecheck pytest export bench bench-device clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check .

# mypy cannot follow setuptools' editable finder for the converters/ -> edgeshare.converters mapping,
# so it checks a symlinked view of the installed package layout.
typecheck: install
	rm -rf $(BUILD)/typecheck && mkdir -p $(BUILD)/typecheck/edgeshare
	for f in edgeshare/*; do ln -s "$$PWD/$$f" $(BUILD)/typecheck/edgeshare/; done
	ln -s "$$PWD/converters" $(BUILD)/typecheck/edgeshare/converters
	ln -s "$$PWD/models" $(BUILD)/typecheck/edgeshare/models
	cd $(BUILD)/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		-p edgeshare.converters -p edgeshare.bench -p edgeshare.cli

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Build every reference model, export each to TFLite (none, dynamic, int8) and ONNX in build/,
# verify each file and bench it on the host; prints one summary table.
export: install
	$(BIN)/edgeshare export-reference --out $(BUILD)

bench: install
	$(BIN)/edgeshare bench $(BUILD)/*/*.tflite $(BUILD)/*/*.onnx

clean:
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache
