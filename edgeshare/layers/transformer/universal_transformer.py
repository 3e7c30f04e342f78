"""The Universal Transformer: one block applied recurrently over depth, with optional adaptive halting."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from edgeshare.layers.transformer.transformer_block import TransformerBlock
from edgeshare.validation import check_in_range, check_positive_int


def _timing_signal(positions: Any, channels: int, dtype: str) -> Any:
    """Sinusoids of `positions` (shape (n,)) over `channels`: (n, channels), as in tensor2tensor's
    `get_timing_signal_1d` (min timescale 1, max timescale 1e4; a zero column pads an odd width)."""
    num_timescales = channels // 2
    increment = math.log(1.0e4) / max(num_timescales - 1, 1)
    inv_timescales = ops.exp(ops.arange(num_timescales, dtype=dtype) * -increment)  # (channels // 2,)
    scaled = ops.expand_dims(positions, 1) * ops.expand_dims(inv_timescales, 0)  # (n, channels // 2)
    signal = ops.concatenate([ops.sin(scaled), ops.cos(scaled)], axis=1)  # (n, 2 * (channels // 2))
    if channels % 2:
        signal = ops.pad(signal, [[0, 0], [0, 1]])  # (n, channels)
    return signal


@keras.saving.register_keras_serializable(package="edgeshare")
class UniversalTransformer(keras.layers.Layer):
    """One Transformer block applied `num_steps` times, with a timestep and position signal added per step.

    The weights of a `num_steps`-deep encoder (or, with `causal=True`, decoder) are those of one block.
    Before every step the sinusoidal position signal and the sinusoidal signal of the step index are added
    to the state, so that the shared block knows where in depth it is (the paper's coordinate embedding).

    With `act=True`, adaptive computation time decides per position how many steps count: a sigmoid unit
    gives a halting probability at every step, a position halts once its cumulative probability exceeds
    `act_threshold`, and the output is each position's states weighted by its halting probabilities (its
    remainder at the halting step). `num_steps` is the fixed maximum: the graph always computes every step
    and halting is applied with masks, so it exports to TFLite and ONNX as a flat graph. At the last step
    every position still running halts and takes its remainder, so the weights of each position sum to 1
    (Graves 2016's cap on the number of steps). During training the ponder cost (steps taken plus the
    remainder, averaged over positions) times `ponder_cost_weight` is added to the layer's losses.

    Args:
        num_steps: how many times the block is applied (the maximum with `act=True`).
        num_heads: attention heads of the block.
        key_dim: size of each attention head.
        ffn_dim: hidden width of the block's feed-forward.
        act: whether to use adaptive computation time.
        causal: whether the block is a causal decoder block.
        act_threshold: the cumulative halting probability at which a position halts (1 - epsilon).
        ponder_cost_weight: weight of the ponder cost added to the losses in training (`act=True`).
        halting_bias_init: initial bias of the halting unit; larger halts earlier at initialization.
        dropout: dropout rate inside the block.
        activation: feed-forward activation.
        norm_epsilon: epsilon of the block's layer norms.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (batch, length, dim).
        attention_mask: optional boolean mask of shape (batch, length, length).
        training: whether dropout and the ponder cost are active.

    Returns:
        A tensor of shape (batch, length, dim).

    Example:
        >>> ut = UniversalTransformer(4, num_heads=2, key_dim=8, ffn_dim=32, act=True)
        >>> tuple(ut(keras.ops.ones((2, 10, 16))).shape)
        (2, 10, 16)

    References:
        Dehghani et al. 2018, "Universal Transformers".
        Graves 2016, "Adaptive Computation Time for Recurrent Neural Networks".
    """

    def __init__(
        self,
        num_steps: int,
        num_heads: int,
        key_dim: int,
        ffn_dim: int,
        act: bool = False,
        causal: bool = False,
        act_threshold: float = 0.99,
        ponder_cost_weight: float = 0.01,
        halting_bias_init: float = 1.0,
        dropout: float = 0.0,
        activation: Any = "gelu",
        norm_epsilon: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int(num_steps, "num_steps")
        check_positive_int(num_heads, "num_heads")
        check_positive_int(key_dim, "key_dim")
        check_positive_int(ffn_dim, "ffn_dim")
        check_in_range(act_threshold, "act_threshold", 0, 1, low_inclusive=False, high_inclusive=True)
        check_in_range(ponder_cost_weight, "ponder_cost_weight", 0)
        self.num_steps = num_steps
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.ffn_dim = ffn_dim
        self.act = act
        self.causal = causal
        self.act_threshold = act_threshold
        self.ponder_cost_weight = ponder_cost_weight
        self.halting_bias_init = halting_bias_init
        self.dropout = dropout
        self.activation = activation
        self.norm_epsilon = norm_epsilon

    def build(self, input_shape: Any) -> None:
        self.block = TransformerBlock(
            self.num_heads,
            self.key_dim,
            self.ffn_dim,
            causal=self.causal,
            dropout=self.dropout,
            activation=self.activation,
            norm_epsilon=self.norm_epsilon,
            dtype=self.dtype_policy,
            name="block",
        )
        self.block.build(input_shape)
        if self.act:
            self.halting = keras.layers.Dense(
                1,
                activation="sigmoid",
                bias_initializer=keras.initializers.Constant(self.halting_bias_init),
                dtype=self.dtype_policy,
                name="halting",
            )
            self.halting.build(input_shape)

    def _signals(self, inputs: Any) -> tuple[Any, Any]:
        dim = inputs.shape[-1]
        dtype = self.compute_dtype
        positions = _timing_signal(ops.arange(ops.shape(inputs)[1], dtype=dtype), dim, dtype)  # (length, dim)
        steps = _timing_signal(ops.arange(self.num_steps, dtype=dtype), dim, dtype)  # (num_steps, dim)
        return positions, steps

    def call(self, inputs: Any, attention_mask: Any = None, training: bool | None = None) -> Any:
        positions, steps = self._signals(inputs)
        state = inputs
        if not self.act:
            for step in range(self.num_steps):
                # (batch, length, dim) + (length, dim) + (dim,): kept as two adds of a runtime tensor so the
                # converter folds no per-step (length, dim) constant.
                state = (state + positions) + steps[step]
                state = self.block(state, attention_mask=attention_mask, training=training)
            return state
        halting_probability = ops.zeros_like(inputs[..., 0])  # (batch, length)
        halted = ops.zeros_like(halting_probability)  # 1 once a position has halted
        remainders = ops.zeros_like(halting_probability)
        n_updates = ops.zeros_like(halting_probability)
        output = ops.zeros_like(inputs)
        for step in range(self.num_steps):
            state = (state + positions) + steps[step]
            p = ops.squeeze(self.halting(state), -1)  # (batch, length, 1) -> (batch, length)
            running = 1.0 - halted
            if step < self.num_steps - 1:
                reaching = halting_probability + p * running
                new_halted = ops.cast(ops.greater(reaching, self.act_threshold), self.compute_dtype) * running
                running = running - new_halted
            else:  # the cap: every position still running halts now and takes its remainder
                new_halted = running
                running = ops.zeros_like(running)
            halting_probability = halting_probability + p * running
            remainders = remainders + new_halted * (1.0 - halting_probability)
            halting_probability = halting_probability + new_halted * remainders
            halted = halted + new_halted
            n_updates = n_updates + running + new_halted
            weights = ops.expand_dims(p * running + new_halted * remainders, -1)  # (batch, length, 1)
            state = self.block(state, attention_mask=attention_mask, training=training)
            output = state * weights + output * (1.0 - weights)
        if training and self.ponder_cost_weight > 0:
            self.add_loss(self.ponder_cost_weight * ops.mean(n_updates + remainders))
        return output

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_steps": self.num_steps,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ffn_dim": self.ffn_dim,
            "act": self.act,
            "causal": self.causal,
            "act_threshold": self.act_threshold,
            "ponder_cost_weight": self.ponder_cost_weight,
            "halting_bias_init": self.halting_bias_init,
            "dropout": self.dropout,
            "activation": self.activation,
            "norm_epsilon": self.norm_epsilon,
        }
