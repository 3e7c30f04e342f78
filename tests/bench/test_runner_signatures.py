"""The runner times the 'all' signature of a multi-task file (TF orders subgraphs by signature name, so
the primary subgraph is an arbitrary task), or the signature asked for; an unknown one is refused."""

import pytest

from edgeshare.bench.runner import run
from edgeshare.converters.runtime import LiteRTRunner
from edgeshare.errors import InvalidInputError


def test_multi_signature_file_times_all_by_default(tmp_path):
    from edgeshare.converters import export_tflite
    from edgeshare.models import get

    ref = get("multitask_digits")
    path = str(tmp_path / "mt.tflite")
    export_tflite(ref.build(), path, "none", signatures="tasks", calibration=ref.sample_data(8))
    res = run(path, warmup=1, runs=5)
    assert res["signature"] == "all" and res["runs"] == 5
    assert run(path, warmup=1, runs=5, signature="parity")["signature"] == "parity"
    assert LiteRTRunner(path).signature == "all"
    with pytest.raises(InvalidInputError, match=r"no signature 'x'; the model has \['above4', 'all', 'digit', "):
        LiteRTRunner(path, signature="x")
