"""CompiledModelRunner (LiteRT's CompiledModel API, XNNPACK's weight cache) against the Interpreter runner.

The outputs must match LiteRTRunner's on real exported files (float32 and full-integer int8, each with
one signature per task plus "all"), through a weight cache built by one runner and mapped by the next.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from edgeshare.converters.runtime import CompiledModelRunner, LiteRTRunner, random_feeds
from edgeshare.errors import InvalidInputError
from tests.bench.tiny_models import write_shared_dense, write_tied_lm


@pytest.fixture(scope="module")
def multitask_files(tmp_path_factory):
    """multitask_digits exported by edgeshare with one signature per task, float32 and int8."""
    from edgeshare.converters import export_tflite
    from edgeshare.models import get

    ref = get("multitask_digits")
    model = ref.build()
    d = tmp_path_factory.mktemp("multitask")
    out = {}
    for mode in ("none", "int8"):
        path = str(d / f"mt_{mode}.tflite")
        rep = export_tflite(model, path, mode, signatures="tasks", calibration=ref.sample_data(16))
        out[mode] = (path, rep)
    return out


def _compare(path: str, key: str | None, cache: str, tol: float) -> int:
    """Outputs of both runners on the same seeded feeds, by name; returns how many were compared."""
    interp = LiteRTRunner(path, signature=key)
    compiled = CompiledModelRunner(path, signature=key, weight_cache=cache)
    assert compiled.signature == interp.signature
    assert compiled.input_names == interp.input_names or sorted(compiled.input_names) == sorted(interp.input_names)
    assert {s.name: s for s in compiled.inputs} == {s.name: s for s in interp.inputs}  # dtype, shape, quantization
    feeds = random_feeds(interp.inputs, 1, seed=3)[0]
    want = dict(zip(interp.output_names, interp(feeds)))
    got = dict(zip(compiled.output_names, compiled(feeds)))
    assert sorted(got) == sorted(want)
    for name, y in want.items():
        np.testing.assert_allclose(got[name], y, rtol=0, atol=tol, err_msg=f"{path} [{key}] {name}")
    return len(want)


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_outputs_match_the_interpreter_on_every_signature(multitask_files, mode, tmp_path):
    path, rep = multitask_files[mode]
    keys = [s["key"] for s in rep.signatures]
    assert "all" in keys and len(keys) >= 3
    # Both run XNNPACK, so float outputs agree to rounding; int8 outputs dequantize to the same steps.
    tol = 1e-5 if mode == "none" else 1e-6
    compared = 0
    for key in keys:
        cache = str(tmp_path / f"{key}.xnnpack_cache")
        compared += _compare(path, key, cache, tol)  # the first runner writes the cache...
        assert os.path.getsize(cache) > 0
        compared += _compare(path, key, cache, tol)  # ...the second maps it
    assert compared >= 2 * (len(keys) + 2)
    assert CompiledModelRunner(path).signature == "all"  # the default, as the Interpreter runner's


def test_export_report_predicts_ram_per_runtime(multitask_files):
    _, rep = multitask_files["none"]
    runtimes = {r["runtime"]: r for r in rep.ram["runtimes"]}
    assert set(runtimes) == {"litert-xnnpack", "litert-xnnpack-cache"}
    # The shared encoder's Dense kernels are read by one op each in the "all" signature: one copy either way.
    assert runtimes["litert-xnnpack-cache"]["packed_copies"] <= runtimes["litert-xnnpack"]["packed_copies"]
    assert runtimes["litert-xnnpack-cache"]["ram_to_weight"] < runtimes["litert-xnnpack"]["ram_to_weight"]


def test_no_signature_dynamic_batch_and_a_reused_weight(tmp_path):
    path = write_shared_dense(str(tmp_path / "dense.tflite"), dim=64, uses=4)
    r = CompiledModelRunner(path, weight_cache=str(tmp_path / "c"))
    assert r.signature is None and r.input_names == ["x"] and r.output_names == ["h3"]
    x = np.random.default_rng(0).standard_normal((1, 64)).astype(np.float32)
    w = LiteRTRunner(path)({"x": x})[0]
    np.testing.assert_allclose(r({"x": x})[0], w, atol=1e-5)
    ref = x
    for _ in range(4):  # the same matrix four times, in NumPy
        ref = ref @ np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32).T / np.float32(8.0)
    np.testing.assert_allclose(w, ref, rtol=1e-4, atol=1e-4)


def test_int8_io_is_dequantized_like_the_interpreter(tmp_path):
    path = write_tied_lm(str(tmp_path / "tied_int8.tflite"), vocab=500, dim=32, int8=True)
    r = CompiledModelRunner(path, weight_cache=str(tmp_path / "c"))
    assert r.outputs[0].dtype == "int8" and r.outputs[0].scale > 0
    ids = {"tokens": np.arange(8, dtype=np.int32).reshape(1, 8)}
    y = r(ids)[0]
    assert y.dtype == np.float32  # real values, as every runner returns
    np.testing.assert_array_equal(y, LiteRTRunner(path)(ids)[0])


def test_dynamic_dimensions_resize(tmp_path):
    from ai_edge_litert import schema_py_generated as s

    path = write_shared_dense(str(tmp_path / "dense.tflite"), dim=32, uses=2)
    with open(path, "rb") as fh:
        model = s.ModelT.InitFromObj(s.Model.GetRootAs(fh.read(), 0))
    for t in model.subgraphs[0].tensors:
        if t.buffer == 0:
            t.shapeSignature = [-1, 32]
    from edgeshare.benchmarks.synthetic import finish_tflite

    finish_tflite(model, path)
    r = CompiledModelRunner(path, weight_cache=str(tmp_path / "c"))
    assert r.inputs[0].shape == (-1, 32)
    interp = LiteRTRunner(path)
    for batch in (3, 1, 2):
        x = np.random.default_rng(batch).standard_normal((batch, 32)).astype(np.float32)
        y = r({"x": x})[0]
        assert y.shape == (batch, 32)
        np.testing.assert_allclose(y, interp({"x": x})[0], atol=1e-5)


def test_bad_arguments_are_refused(tmp_path):
    path = write_shared_dense(str(tmp_path / "dense.tflite"), dim=16, uses=2)
    with pytest.raises(InvalidInputError, match=r"the XNNPACK weight cache must be a file path, not a folder .*"
                                                r"Received: weight_cache="):
        CompiledModelRunner(path, weight_cache=str(tmp_path))
    with pytest.raises(InvalidInputError, match=r"the folder of the XNNPACK weight cache does not exist. "
                                                r"Received: weight_cache=.*/nowhere/c"):
        CompiledModelRunner(path, weight_cache=str(tmp_path / "nowhere" / "c"))
    with pytest.raises(InvalidInputError, match=r"built-in kernels pack no weights, so they take no XNNPACK weight "
                                                r"cache. Received: weight_cache="):
        CompiledModelRunner(path, weight_cache=str(tmp_path / "c"), builtin_kernels=True)
    with pytest.raises(InvalidInputError, match=r"offers accelerators cpu, gpu, npu. Received: accelerator=tpu"):
        CompiledModelRunner(path, accelerator="tpu")
    with pytest.raises(InvalidInputError, match=r"no signature 'x'; the model has \[\]. Received: signature=x"):
        CompiledModelRunner(path, signature="x")
    # Built-in kernels compute the same thing without XNNPACK.
    x = {"x": np.ones((1, 16), np.float32)}
    np.testing.assert_allclose(CompiledModelRunner(path, builtin_kernels=True)(x)[0], LiteRTRunner(path)(x)[0],
                               rtol=1e-5, atol=1e-5)
