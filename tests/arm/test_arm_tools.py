"""The host-side tools of `make test-arm` (no emulation needed): the cross-CPU comparison and its
tolerances, the root's requirement list, and the plugin that turns a missing TensorFlow into a skip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.arm.compare_outputs import INT8_STEPS, compare, kind_of
from tests.arm.root_requirements import requirements

REPO = Path(__file__).resolve().parents[2]


def _outputs(path: Path, machine: str, files: dict[str, tuple[np.ndarray, float] | str]) -> str:
    """An .npz as tests/arm/run_models.py writes it: {file: (output, scale)} or {file: error}."""
    arrays: dict[str, np.ndarray] = {}
    index = []
    for f, v in files.items():
        if isinstance(v, str):
            index.append({"file": f, "outputs": [], "error": v})
            continue
        key = f"{f}::serving_default/output_0"
        arrays[key] = v[0]
        index.append({"file": f, "outputs": [{"key": key, "scale": v[1], "zero_point": 0, "dtype": str(v[0].dtype)}]})
    meta = {"machine": machine, "samples": 2, "files": index}
    arrays["__index__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    return str(path)


def test_kind_from_the_export_suffix():
    assert [kind_of(f) for f in ("m/m_none.tflite", "m/m.onnx", "m/m_int8.tflite", "m/m_dynamic.onnx",
                                 "m/m_dynamic.digit.onnx", "m/m_fp16.tflite")] == \
        ["float", "float", "int8", "dynamic", "dynamic", "float"]


def test_each_tolerance_passes_at_its_limit_and_fails_past_it(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((2, 10)).astype(np.float32)
    q = rng.integers(-100, 100, (2, 10)).astype(np.int8)
    near_q, far_q = q.copy(), q.copy()
    near_q[0, 0] += INT8_STEPS
    far_q[0, 0] += INT8_STEPS + 1
    flipped = y.copy()
    flipped[1] = -flipped[1]  # one sample reversed: a global cosine would still be high on a big batch
    x86 = _outputs(tmp_path / "x.npz", "x86_64", {
        "m/m_none.tflite": (y, 0.0), "m/m_fp16.tflite": (y, 0.0), "m/m_int8.tflite": (q, 0.05),
        "m/n_int8.tflite": (q, 0.05), "m/m_dynamic.onnx": (y, 0.0), "m/gone.onnx": (y, 0.0),
        "m/broken.onnx": (y, 0.0)})
    arm = _outputs(tmp_path / "a.npz", "aarch64", {
        "m/m_none.tflite": (y + np.float32(5e-5), 0.0), "m/m_fp16.tflite": (y + np.float32(2e-3), 0.0),
        "m/m_int8.tflite": (near_q, 0.05), "m/n_int8.tflite": (far_q, 0.05), "m/m_dynamic.onnx": (flipped, 0.0),
        "m/broken.onnx": "RuntimeError: no kernel"})
    rows, _, _ = compare(x86, arm)
    got = {r["file"]: r["ok"] for r in rows}
    assert got == {"m/m_none.tflite": True, "m/m_fp16.tflite": False, "m/m_int8.tflite": True,
                   "m/n_int8.tflite": False, "m/m_dynamic.onnx": False, "m/gone.onnx": False,
                   "m/broken.onnx": False}
    by = {r["file"]: r for r in rows}
    assert by["m/n_int8.tflite"]["max_steps"] == INT8_STEPS + 1
    assert "aarch64: not run" in by["m/gone.onnx"]["note"] and "no kernel" in by["m/broken.onnx"]["note"]


def test_the_comparison_script_exits_1_and_names_the_file(tmp_path):
    y = np.ones((2, 4), np.float32)
    x86 = _outputs(tmp_path / "x.npz", "x86_64", {"m/m_none.tflite": (y, 0.0)})
    arm = _outputs(tmp_path / "a.npz", "aarch64", {"m/m_none.tflite": (y * 2, 0.0)})
    proc = subprocess.run([sys.executable, str(REPO / "tests/arm/compare_outputs.py"), x86, arm],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    assert "0 of 1 files within tolerance; outside: m/m_none.tflite" in proc.stdout


def test_the_root_gets_the_light_runtime_and_no_tensorflow():
    reqs = requirements(str(REPO / "pyproject.toml"))
    names = [r.split(">")[0].split("=")[0].split("<")[0] for r in reqs]
    assert names[:6] == ["numpy", "rich", "flatbuffers", "onnx", "onnxruntime", "ai-edge-litert"]
    assert "pytest" in names and "hypothesis" in names
    assert not {"tensorflow", "keras", "tf2onnx"} & set(names)


def test_root_requirements_refuses_a_dev_extra_without_pytest(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\ndependencies = ["numpy"]\n[project.optional-dependencies]\ndev = ["ruff"]\n')
    with pytest.raises(SystemExit, match=r"does not pin pytest. Received: dev=\['ruff'\]"):
        requirements(str(p))


def test_plugin_skips_a_missing_tensorflow_and_fails_anything_else(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.fixture\n"
        "def needs_keras():\n"
        "    raise ModuleNotFoundError(\"No module named 'keras'\", name='keras')\n"
        "def test_tf():\n"
        "    raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow.python')\n"
        "def test_fixture(needs_keras):\n"
        "    pass\n"
        "def test_other():\n"
        "    raise ModuleNotFoundError(\"No module named 'numpyy'\", name='numpyy')\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "tests.arm.light_runtime", "-rs", str(tmp_path / "test_x.py")],
                          capture_output=True, text=True, cwd=REPO)
    assert "1 failed, 2 skipped" in proc.stdout, proc.stdout
    assert "needs tensorflow, which the light runtime does not install" in proc.stdout
    assert "needs keras" in proc.stdout and "numpyy" in proc.stdout
