"""One encoder shared by several tasks, each with its own head (multi-task learning)."""

from __future__ import annotations

from typing import Any

import keras

from edgeshare.layers._shared_sublayer import sublayer_from_config


@keras.saving.register_keras_serializable(package="edgeshare")
class MultiTaskModel(keras.Model):
    """Runs one shared `encoder` and a head per task; returns a dict of task outputs.

    Hard parameter sharing for multi-task learning (Caruana 1997; Ruder 2017): every task reads the
    same encoder features. `heads` maps each task name to its head layer. `shared_heads` shares a head's
    parameters across related tasks: it maps a task to a layer applied between the encoder and that
    task's head, and giving several tasks the same layer object shares it, for example one projection
    with a per-task output layer. A shared layer runs once per call, whatever the number of its tasks.

    Wrap it in a functional model (`keras.Model(x, MultiTaskModel(...)(x))`) to export it:
    `export_tflite(..., signatures="tasks")` writes one `.tflite` with one signature per task plus
    `"all"`, the encoder stored once.

    Args:
        encoder: a layer or model mapping the inputs to shared features.
        heads: a dict of task name to head layer (task names are valid Python identifiers).
        shared_heads: an optional dict of task name to a layer applied before that task's head; pass
            one layer object for several tasks to share it.
        **kwargs: standard model arguments.

    Call arguments:
        inputs: what the encoder takes.
        training: passed to every sublayer.

    Returns:
        A dict of task name to that head's output, in the order of `heads`.

    Example:
        >>> encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(32, activation="relu")])
        >>> proj = keras.layers.Dense(16, activation="relu")
        >>> model = MultiTaskModel(
        ...     encoder,
        ...     heads={"digit": keras.layers.Dense(10), "parity": keras.layers.Dense(2)},
        ...     shared_heads={"parity": proj},
        ... )
        >>> {k: tuple(v.shape) for k, v in model(keras.ops.ones((2, 8, 8))).items()}
        {'digit': (2, 10), 'parity': (2, 2)}

    References:
        Caruana 1997, "Multitask Learning" (Machine Learning 28); Ruder 2017, "An Overview of Multi-Task
        Learning in Deep Neural Networks".
    """

    def __init__(
        self,
        encoder: keras.layers.Layer,
        heads: dict[str, keras.layers.Layer],
        shared_heads: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        encoder = sublayer_from_config(encoder)
        if not isinstance(encoder, keras.layers.Layer):
            raise TypeError(f"`encoder` must be a Keras layer or model. Received: encoder={encoder!r}")
        if not isinstance(heads, dict) or not heads:
            raise ValueError(f"`heads` must be a non-empty dict of task name to layer. Received: heads={heads!r}")
        heads = {task: sublayer_from_config(head) for task, head in heads.items()}
        for task, head in heads.items():
            if not isinstance(task, str) or not task.isidentifier():
                raise ValueError(f"Task names must be Python identifiers. Received: task={task!r}")
            if not isinstance(head, keras.layers.Layer):
                raise TypeError(f"Each head must be a Keras layer. Received: heads[{task!r}]={head!r}")
        shared_heads = self._shared_heads_from_config(shared_heads)
        unknown = sorted(set(shared_heads) - set(heads))
        if unknown:
            raise ValueError(
                f"`shared_heads` names tasks that have no head. Received: unknown_tasks={unknown}, tasks={list(heads)}"
            )
        for task, layer in shared_heads.items():
            if not isinstance(layer, keras.layers.Layer):
                raise TypeError(f"Each shared head must be a Keras layer. Received: shared_heads[{task!r}]={layer!r}")
        self.encoder = encoder
        self.heads = heads
        self.shared_heads = shared_heads

    @staticmethod
    def _shared_heads_from_config(value: Any) -> dict[str, keras.layers.Layer]:
        """A dict of task -> layer, or its config form {"layers": [...], "tasks": {task: index}}."""
        if value is None:
            return {}
        if isinstance(value, dict) and set(value) == {"layers", "tasks"} and isinstance(value["layers"], list):
            layers = [sublayer_from_config(layer) for layer in value["layers"]]
            return {task: layers[i] for task, i in value["tasks"].items()}
        if not isinstance(value, dict):
            raise ValueError(f"`shared_heads` must be a dict of task name to layer. Received: shared_heads={value!r}")
        return {task: sublayer_from_config(layer) for task, layer in value.items()}

    @property
    def tasks(self) -> list[str]:
        return list(self.heads)

    def build(self, input_shape: Any) -> None:
        if not self.encoder.built:
            self.encoder.build(input_shape)
        features = self.encoder.compute_output_shape(input_shape)
        for task, head in self.heads.items():
            shape = features
            shared = self.shared_heads.get(task)
            if shared is not None:
                if not shared.built:
                    shared.build(features)
                shape = shared.compute_output_shape(features)
            if not head.built:
                head.build(shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        features = self.encoder(inputs, training=training)
        shared_out = {}  # id(shared layer) -> its output: a shared head runs once for all its tasks
        outputs = {}
        for task, head in self.heads.items():
            x = features
            shared = self.shared_heads.get(task)
            if shared is not None:
                if id(shared) not in shared_out:
                    shared_out[id(shared)] = shared(features, training=training)
                x = shared_out[id(shared)]
            outputs[task] = head(x, training=training)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> dict[str, Any]:
        features = self.encoder.compute_output_shape(input_shape)
        out = {}
        for task, head in self.heads.items():
            shared = self.shared_heads.get(task)
            out[task] = head.compute_output_shape(shared.compute_output_shape(features) if shared else features)
        return out

    def get_config(self) -> dict[str, Any]:
        # Layer instances, not dicts (see edgeshare/layers/_shared_sublayer.py). Shared heads are listed
        # once each, with an index per task, so that their sharing survives any config round trip.
        unique: list = []
        index: dict = {}
        for layer in self.shared_heads.values():
            if id(layer) not in index:
                index[id(layer)] = len(unique)
                unique.append(layer)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": self.encoder,
            "heads": dict(self.heads),
            "shared_heads": {
                "layers": unique,
                "tasks": {task: index[id(layer)] for task, layer in self.shared_heads.items()},
            },
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiTaskModel:
        return cls(**config)
