"""keras-hub `.keras` files through the CLI: export (TFLite and ONNX), a model with dynamic sequence
inputs and --input-shape, keras-hub missing, --custom-objects, and the README's five lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgeshare.cli import main
from tests.hub.builders import SEQ, VOCAB, gpt2, sample_inputs

pytest.importorskip("keras_hub")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Python code in a fresh process (its own Keras class registry), from the repository root."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def gpt2_keras(tmp_path_factory):
    """A keras-hub GPT-2 (static inputs) saved as .keras, with a calibration file by input name."""
    d = tmp_path_factory.mktemp("gpt2")
    model = gpt2()
    path = str(d / "gpt2.keras")
    model.save(path)
    cal = str(d / "cal.npz")
    np.savez(cal, **sample_inputs(model, 32))
    return path, cal


@pytest.mark.parametrize(("fmt", "mode"), [("tflite", "int8"), ("onnx", "dynamic")])
def test_cli_exports_a_saved_keras_hub_model(gpt2_keras, fmt, mode, tmp_path, capsys):
    path, cal = gpt2_keras
    out = str(tmp_path / f"gpt2_{mode}.{fmt}")
    code = main(["export", path, "--format", fmt, "--quantize", mode, "--calibration", cal, "-o", out, "--json"])
    cap = capsys.readouterr()
    d = json.loads(cap.out)
    assert code == 0, d["problems"]
    assert d["duplicate_bytes"] == 0 and d["weight_to_floor"] <= 1.01
    assert d["numerics"]["passed"] and d["numerics"]["top1_agreement"] is not None
    assert [i["name"] for i in d["inputs"]] == ["token_ids", "padding_mask"]  # the model's own key order
    emb = next(v for v in d["variables"] if v["path"] == "token_embedding/embeddings")
    # One stored weight carries the tied table (in full int8, the head's per-channel copy, which the GATHER
    # reads through an EMBEDDING_LOOKUP), and it is not flagged as stored twice.
    assert emb["uses"] == 2 and len(emb["carriers"]) == 1 and not emb["flagged"]


def test_dynamic_sequence_model_needs_input_shapes(tmp_path, capsys):
    """A keras-hub task as users have it (token_ids of shape (None, None)): exit 2 naming --input-shape,
    then an export with the shapes given."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=32,
                                             intermediate_dim=64, max_sequence_length=SEQ, dropout=0.0)
    path = str(tmp_path / "lm.keras")
    keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None).save(path)
    out = str(tmp_path / "lm.tflite")
    assert main(["export", path, "-o", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lm.keras" in err
    assert "--input-shape token_ids=1x128" in err and "Received: shape=[None, None]" in err
    shapes = ["--input-shape", f"token_ids=1x{SEQ}", "--input-shape", f"padding_mask=1x{SEQ}"]
    assert main(["export", path, "--quantize", "dynamic", "-o", out, *shapes, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] and [i["shape"] for i in d["inputs"]] == [[1, SEQ], [1, SEQ]]
    assert main(["export", path, "-o", out, "--input-shape", "tokens=1x16"]) == 2
    assert "input shapes must name inputs of the model ['token_ids', 'padding_mask']. Received: names=['tokens']" \
        in capsys.readouterr().err


def test_keras_hub_missing_is_one_line_naming_the_package(gpt2_keras):
    path, _ = gpt2_keras
    r = _run(f"""
        import sys
        sys.modules["keras_hub"] = None  # an interpreter without keras-hub
        from edgeshare.cli import main
        raise SystemExit(main(["export", {path!r}, "-o", "/tmp/never.tflite"]))
    """)
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("edgeshare export: error: ") and path in last
    assert "keras-hub classes (Functional" not in last and "GPT2CausalLM" in last
    assert last.endswith("keras-hub is not installed: pip install keras-hub")


def test_plain_models_load_without_importing_keras_hub(tmp_path):
    from tests.converters.conftest import build_tied_lm

    path = str(tmp_path / "plain.keras")
    build_tied_lm().save(path)
    r = _run(f"""
        import sys
        from edgeshare.accounting import load_keras_model
        load_keras_model({path!r})
        print("keras_hub" in sys.modules)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"


CUSTOM_MODULE = '''
import keras


@keras.saving.register_keras_serializable(package="users_own")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x
'''


def test_custom_objects_module_registers_the_users_classes(tmp_path):
    mod = tmp_path / "users_layers.py"
    mod.write_text(CUSTOM_MODULE)
    model_path = str(tmp_path / "custom.keras")
    import keras

    from edgeshare.accounting import import_custom_objects

    import_custom_objects([str(mod)])  # registers Doubler in this process; the runs below are fresh ones
    x = keras.Input((4,), name="x")
    keras.Model(x, keras.layers.Dense(3)(sys.modules["users_layers"].Doubler()(x))).save(model_path)
    out = str(tmp_path / "custom.tflite")
    # without the module: the class is unknown (exit 2, one line)
    r = _run(f"from edgeshare.cli import main; raise SystemExit(main({['export', model_path, '-o', out]!r}))")
    assert r.returncode == 2 and "cannot load the Keras model" in r.stderr.strip().splitlines()[-1]
    # by module name (importable from the working folder), then by file, for each command that loads a model
    runs = [["export", model_path, "-o", out, "--custom-objects", "users_layers"],
            ["inspect", model_path, "--custom-objects", str(mod)],
            ["verify", out, "--model", model_path, "--custom-objects", str(mod)]]
    r = _run(f"""
        from edgeshare.cli import main
        print([main(argv) for argv in {runs!r}])
    """, cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "[0, 0, 0]", r.stderr


@pytest.mark.parametrize("command", ["export", "inspect", "verify"])
def test_a_bad_custom_objects_module_exits_2_with_one_line(gpt2_keras, command, tmp_path, capsys):
    path, _ = gpt2_keras
    argv = {"export": ["export", path, "-o", str(tmp_path / "x.tflite")], "inspect": ["inspect", path],
            "verify": ["verify", str(tmp_path / "x.tflite"), "--model", path]}[command]
    assert main([*argv, "--custom-objects", "no_such_module_here"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert ("the --custom-objects module does not import (ModuleNotFoundError: No module named "
            "'no_such_module_here')") in err and err.endswith("Received: module='no_such_module_here'")


def test_custom_objects_without_model_in_verify_exits_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "x.tflite"), "--custom-objects", "m"]) == 2
    assert "--custom-objects is for loading --model; give --model too" in capsys.readouterr().err


README_LINES = """\
import keras_hub
from edgeshare.converters import export_tflite

lm = keras_hub.models.GPT2CausalLM.from_preset("gpt2_base_en", preprocessor=None)
report = export_tflite(lm, "gpt2.tflite", "dynamic", input_shapes={"token_ids": (1, 128), "padding_mask": (1, 128)})
print(f"{report.weight_bytes:,} weight bytes, {report.ratio:.2f}x the floor, numerics ok: {report.numerics.passed}")
"""


def test_the_readme_lines_export_a_keras_hub_gpt2(tmp_path, monkeypatch, capsys):
    """The README's five lines, run as written except for the preset: no network here, so a GPT-2 built from
    config and saved with `save_to_preset` stands in for "gpt2_base_en"."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=VOCAB, num_layers=2, num_heads=2, hidden_dim=64,
                                             intermediate_dim=128, max_sequence_length=128, dropout=0.0)
    keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None).save_to_preset(str(tmp_path / "gpt2_tiny"))
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme) as fh:
        assert README_LINES in fh.read(), "the README's example changed: update README_LINES"
    code = README_LINES.replace('"gpt2_base_en"', '"./gpt2_tiny"')
    assert code != README_LINES and len([line for line in README_LINES.splitlines() if line]) == 5
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("1.00x the floor, numerics ok: True")
    assert os.path.getsize(tmp_path / "gpt2.tflite") > 0


def test_packages_needed_reads_the_archive(gpt2_keras, tmp_path):
    from edgeshare.accounting import packages_needed
    from tests.converters.conftest import build_tied_lm

    path, _ = gpt2_keras
    from pathlib import Path

    found = packages_needed(Path(path))
    assert list(found) == ["keras_hub"] and "GPT2CausalLM" in found["keras_hub"]
    plain = tmp_path / "plain.keras"
    build_tied_lm().save(str(plain))
    assert packages_needed(plain) == {}


def test_a_saved_keras_hub_model_loads_back_with_the_same_outputs(gpt2_keras):
    from edgeshare.accounting import call_model, load_keras_model

    path, _ = gpt2_keras
    feeds = sample_inputs(gpt2(), 4)
    again = load_keras_model(path)
    assert type(again.layers[-1]).__name__ == "GPT2CausalLM"
    np.testing.assert_allclose(call_model(again, feeds)["output_0"], call_model(gpt2(), feeds)["output_0"],
                               atol=1e-5)
