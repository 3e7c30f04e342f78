#!/usr/bin/env bash
# Inside the arm64 root (from the copy of tests/ in /opt/edgeshare/src): edgeshare's light-runtime tests,
# i.e. verify, repair and bench, the harness's transports (the SSH ones against an aarch64 sshd started
# by tests/bench/sshd.py inside the root), and the light-path checks. The files below import no
# TensorFlow at module level; tests that need it at run time skip (tests/arm/light_runtime.py).
set -euo pipefail
FILES=(
  tests/bench
  tests/test_light_paths.py
  tests/converters/test_verify_tflite.py
  tests/converters/test_verify_onnx.py
  tests/converters/test_repair_tflite.py
  tests/converters/test_repair_onnx.py
  tests/cli/test_bad_input.py
)
exec python3 -m pytest -q -p no:cacheprovider -p tests.arm.light_runtime -rs "${FILES[@]}" "$@"
