"""Every layer family trains for one step under data parallelism on 2 devices, its shared weights still single:

- JAX: `keras.distribution.DataParallel` over 2 host devices (XLA_FLAGS=--xla_force_host_platform_device_count=2);
- TensorFlow: `tf.distribute.MirroredStrategy` over 2 logical CPUs.

The backend and the devices must be set before Keras or TensorFlow initialize, so each strategy runs all
families in one fresh process (family_models.py) that prints its findings as JSON.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from tests.layers.distribution.family_models import FAMILIES

SCRIPT = os.path.join(os.path.dirname(__file__), "family_models.py")

# Trainable variables of each family's model, written out: every shared object counts once.
EXPECTED_TRAINABLE = {
    # tied table 1; factorized table + projection 2; multilingual table + language table 2
    "embeddings": 1 + 2 + 2,
    # one GRU cell (kernel, recurrent kernel, bias) for all 3 layers; Dense head 2
    "recurrent": 3 + 2,
    # 2 unique blocks of 16 variables (4 projections x kernel+bias, 2 norms x 2, FFN 2 x 2) serve 4 depths; head 2
    "transformer": 2 * 16 + 2,
    # one block 16, ACT halting unit 2, head 2
    "universal": 16 + 2 + 2,
    # one block 16 applied 3 times; head 2
    "repeat": 16 + 2,
    # query, one shared key/value pair and output projections, kernel + bias each; head 2
    "attention": 4 * 2 + 2,
    # bank 1; soft layer coefficients + bias 2; hard layer bias 1; ShuffleUnit: 2 grouped 1x1 + depthwise
    # kernels 3 and 3 batch norms x (gamma, beta) 6; head 2
    "conv": 1 + 2 + 1 + 3 + 6 + 2,
    # CPFactors (input, output factor) 2 + 2 CP layers x (height, width factor, bias) 6; TuckerFactors 2 +
    # 2 Tucker layers x (core, bias) 4; SharedBasis 1 + 2 dense layers x (coefficients, bias) 4; head 2
    "factorized": 2 + 6 + 2 + 4 + 1 + 4 + 2,
    # encoder 2, one shared projection 2 for both tasks, 2 heads 4
    "multitask": 2 + 2 + 4,
}


def run_family_models(kind: str, tmp_path) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.getcwd()}
    env.pop("KERAS_BACKEND", None)
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run([sys.executable, SCRIPT, kind], capture_output=True, text=True, env=env, timeout=900,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def jax_result(tmp_path_factory):
    pytest.importorskip("jax")
    return run_family_models("jax", tmp_path_factory.mktemp("jax"))


@pytest.fixture(scope="module")
def mirrored_result(tmp_path_factory):
    return run_family_models("mirrored", tmp_path_factory.mktemp("mirrored"))


def check_family(info: dict, family: str) -> None:
    assert math.isfinite(info["loss"]), info
    # No variable was duplicated by the strategy: each shared object is one variable...
    assert info["trainable"] == info["unique"], info
    assert info["trainable"] == EXPECTED_TRAINABLE[family], info
    # ...and one step moved every one of them (the gradient reached every shared use).
    assert info["changed"] == info["trainable"], info


@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_under_jax_data_parallel(jax_result, family):
    assert jax_result["devices"] == 2
    info = jax_result["families"][family]
    check_family(info, family)
    # Data parallel: every variable is replicated on both devices.
    assert info["variable_devices"] == [2], info


@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_under_mirrored_strategy(mirrored_result, family):
    assert mirrored_result["devices"] == 2
    info = mirrored_result["families"][family]
    check_family(info, family)
    assert info["variable_types"] == ["MirroredVariable"], info
    assert info["replicas_equal"], info


def test_both_strategies_build_the_same_models(jax_result, mirrored_result):
    # The same builders on two backends: the same parameter count per family.
    for family in FAMILIES:
        assert jax_result["families"][family]["params"] == mirrored_result["families"][family]["params"], family
