import numpy as np
import pytest

from edgeshare.converters import verify
from edgeshare.converters.export.signatures import per_task_tflite_bytes
from edgeshare.converters.formats.source import open_source
from edgeshare.converters.formats.tflite_file import read_tflite
from edgeshare.converters.runtime import LiteRTRunner
from tests.models.reference_exports import assert_accepted, export_reference

TASKS = ["digit", "parity", "above4"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_reference("multitask_digits", str(tmp_path_factory.mktemp("multitask_digits")))


def test_every_mode_is_accepted(exported):
    assert_accepted(exported["reports"])
    for mode, rep in exported["reports"].items():
        assert {s["key"] for s in rep.signatures} == {"all", *TASKS}, mode
        assert all(s["numerics"]["passed"] for s in rep.signatures), mode


@pytest.mark.parametrize("mode", ["none", "dynamic", "int8"])
def test_encoder_stored_once_across_signatures(exported, mode):
    path = exported["paths"][mode]
    vr = verify(path, model=exported["model"])
    assert vr.ok and vr.duplicate_bytes == 0
    encoder = [v for v in vr.variables if "/encoder/" in v.path and v.path.endswith("kernel")]
    assert len(encoder) == 4 and all(len(v.carriers) == 1 for v in encoder)
    with open_source(path) as src:  # one subgraph per signature (TF orders them by name)
        sigs = read_tflite(src).signatures
        assert sorted(s.key for s in sigs) == sorted(["all", *TASKS])
        assert sorted(s.subgraph for s in sigs) == [0, 1, 2, 3]


def test_each_signature_runs_alone_and_equals_keras(exported):
    model, data = exported["model"], exported["data"][0][:3]
    want = {k: np.asarray(v) for k, v in model(data).items()}
    for task in TASKS:
        runner = LiteRTRunner(exported["paths"]["none"], signature=task)
        assert runner.output_names == [task]
        got = np.concatenate([runner({runner.input_names[0]: data[i : i + 1]})[0] for i in range(len(data))])
        np.testing.assert_allclose(got, want[task], atol=1e-4)


def test_multi_signature_file_is_smaller_than_the_per_task_files(exported):
    rep = exported["reports"]["int8"]
    separate = per_task_tflite_bytes(exported["model"], "int8", calibration=exported["data"])
    total = sum(separate.values())
    print(f"\nmultitask_digits int8: one file with 4 signatures {rep.file_bytes} bytes; "
          f"per-task files {separate} = {total} bytes; ratio {rep.file_bytes / total:.2f}")
    assert rep.file_bytes < total
