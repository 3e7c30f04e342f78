"""A shared stack trained under tf.distribute.MirroredStrategy on two logical CPU devices.

TensorFlow accepts a logical-device configuration only before it initializes, so the training runs in a
fresh Python process that configures the devices first and prints its findings as JSON.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from edgeshare.layers import SharedTransformerStack

    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        inputs = keras.Input((8, 16))
        stack = SharedTransformerStack(4, 2, "cycle", num_heads=2, key_dim=8, ffn_dim=32, name="stack")
        outputs = keras.layers.Dense(1, name="head")(stack(inputs))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 8, 16)).astype("float32")
    y = np.cumsum(x[..., :1], axis=1) / 4.0  # a target that needs attention over earlier positions
    losses = model.fit(x, y, batch_size=32, epochs=4, verbose=0).history["loss"]
    kernel = stack.blocks[0].attention_layer._query_dense.kernel
    replicas = kernel.value.values
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "losses": [float(v) for v in losses],
        "trainable": len(model.trainable_weights),
        "unique_ids": len({id(v) for v in model.trainable_weights}),
        "stack_trainable": len(stack.trainable_weights),
        "blocks_shared": stack.blocks[0] is stack.blocks[2] and stack.blocks[1] is stack.blocks[3],
        "same_kernel_at_depths_0_and_2": stack.blocks[2].attention_layer._query_dense.kernel is kernel,
        "kernel_is_mirrored": type(kernel.value).__name__,
        "replica_devices": sorted(r.device for r in replicas),
        "replicas_equal": bool(np.array_equal(replicas[0].numpy(), replicas[1].numpy())),
        "params": model.count_params(),
    }))
    """
)


def test_shared_stack_trains_under_mirrored_strategy(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    # Two unique blocks of 16 variables serve four depths, plus the head: the variables stay single.
    assert result["stack_trainable"] == 2 * 16
    assert result["trainable"] == result["unique_ids"] == 2 * 16 + 2
    assert result["blocks_shared"] and result["same_kernel_at_depths_0_and_2"]
    # One variable mirrored on both devices, kept in sync.
    assert result["kernel_is_mirrored"] == "MirroredVariable"
    assert len(result["replica_devices"]) == 2 and result["replica_devices"][0] != result["replica_devices"][1]
    assert result["replicas_equal"]
    losses = result["losses"]
    assert losses[-1] < 0.8 * losses[0], losses
