"""The cross-layer sharing engine: `num_layers` Transformer layers served by `num_unique` unique ones."""

from __future__ import annotations

from typing import Any

import keras

from edgeshare.layers.transformer.feed_forward import FeedForward
from edgeshare.layers.transformer.transformer_block import TransformerBlock
from edgeshare.validation import check_choice, check_positive_int

STRATEGIES = ("sequence", "cycle", "cycle_rev", "all", "adjacent", "interleaved", "skip")
SHARES = ("block", "attention", "ffn")


def layer_assignment(num_layers: int, num_unique: int, strategy: str, skip_distance: int = 2) -> tuple[int, ...]:
    """Which unique layer serves each depth, as a tuple of `num_layers` indices in [0, num_unique).

    Raises ValueError, naming the arguments, for a combination the strategy cannot serve. Every strategy
    uses each of the `num_unique` layers at least once.
    """
    check_positive_int(num_layers, "num_layers")
    check_positive_int(num_unique, "num_unique")
    check_choice(strategy, "strategy", STRATEGIES)
    if num_unique > num_layers:
        raise ValueError(
            "`num_unique` must not exceed `num_layers`: every unique layer needs a depth to serve. "
            f"Received: num_layers={num_layers}, num_unique={num_unique}"
        )
    n, m = num_layers, num_unique
    if strategy in ("sequence", "adjacent", "skip") and n % m:
        raise ValueError(
            f"`num_layers` must be divisible by `num_unique` for strategy={strategy!r}. "
            f"Received: num_layers={n}, num_unique={m}"
        )
    if strategy == "sequence":
        # Takase & Kiyono 2021, SEQUENCE: f(i) = floor(i / (N / M)), each layer used N/M times in a row.
        return tuple(i // (n // m) for i in range(n))
    if strategy == "adjacent":
        # MobileLLM's immediate block-wise repeat: each block runs N/M times back to back, so its weights
        # are still in cache for the repeat. The assignment is SEQUENCE's; the name is MobileLLM's.
        return tuple(i // (n // m) for i in range(n))
    if strategy == "cycle":
        # Takase & Kiyono 2021, CYCLE: f(i) = i mod M.
        return tuple(i % m for i in range(n))
    if strategy == "cycle_rev":
        # Takase & Kiyono 2021, CYCLE (REV): CYCLE for the first M * (ceil(N/M) - 1) layers, then the
        # unique layers in reverse order: f(i) = M - 1 - (i mod M).
        cut = m * (-(-n // m) - 1)
        return tuple(i % m if i < cut else m - 1 - (i % m) for i in range(n))
    if strategy == "all":
        # ALBERT: one layer serves every depth.
        if m != 1:
            raise ValueError(
                "`num_unique` must be 1 for strategy='all', where one layer serves every depth. "
                f"Received: num_unique={m}"
            )
        return (0,) * n
    if strategy == "interleaved":
        # Even depths cycle over S = M - floor(N/2) shared layers (indices 0..S-1); each odd depth owns an
        # unshared layer (indices S, S+1, ...).
        unshared = n // 2
        if m <= unshared:
            raise ValueError(
                f"`num_unique` must be at least {unshared + 1} for strategy='interleaved' with "
                f"num_layers={n}: the {unshared} odd depths each own a layer, and at least one more layer is "
                f"shared by the even depths. Received: num_layers={n}, num_unique={m}"
            )
        shared = m - unshared
        return tuple((i // 2) % shared if i % 2 == 0 else shared + i // 2 for i in range(n))
    # skip: layer i shares with layer i - k (k = skip_distance) inside windows of k * (N/M) layers, so each
    # unique layer serves N/M depths spaced k apart. k = 1 is SEQUENCE, k = M is CYCLE.
    check_positive_int(skip_distance, "skip_distance")
    if m % skip_distance:
        raise ValueError(
            "`num_unique` must be divisible by `skip_distance` for strategy='skip'. "
            f"Received: num_unique={m}, skip_distance={skip_distance}"
        )
    window = skip_distance * (n // m)
    return tuple((i // window) * skip_distance + i % skip_distance for i in range(n))


def _required(value: int | None, name: str) -> int:
    """`value`, a positive int; a ValueError naming `name` if it is None or not a positive int."""
    if value is None:
        raise ValueError(f"`{name}` is required. Received: {name}=None")
    check_positive_int(value, name)
    return value


@keras.saving.register_keras_serializable(package="edgeshare")
class SharedTransformerStack(keras.layers.Layer):
    """A stack of `num_layers` Transformer blocks in which only `num_unique` distinct layers exist.

    `strategy` decides which unique layer serves each depth (`layer_assignment`), `share` what is shared:
    - `"sequence"`: each unique layer serves N/M consecutive depths, [0, 0, 1, 1, 2, 2] (Takase & Kiyono).
    - `"cycle"`: the unique layers in turn, [0, 1, 2, 0, 1, 2] (Takase & Kiyono).
    - `"cycle_rev"`: cycle, then the last round reversed, [0, 1, 2, 2, 1, 0] (Takase & Kiyono).
    - `"all"`: one layer for every depth, [0, 0, 0, 0] (ALBERT); needs `num_unique=1`.
    - `"adjacent"`: each block repeated back to back, [0, 0, 1, 1] (MobileLLM's immediate block-wise
      repeat; the same assignment as `"sequence"`, named after the paper that motivates it by cache reuse).
    - `"interleaved"`: shared layers at even depths alternate with unshared ones at odd depths,
      [0, 1, 0, 2, 0, 3]; `num_unique` counts both kinds, so it is at least `num_layers // 2 + 1`.
    - `"skip"`: layer i shares with layer i - `skip_distance`, [0, 1, 0, 1, 2, 3, 2, 3] for k = 2.

    With `share="block"` the whole block (attention, feed-forward and both layer norms) is shared. With
    `share="attention"` or `share="ffn"` only that sublayer is shared and every depth keeps its own other
    sublayer and layer norms (ALBERT's ablation). The same stack serves encoders and, with `causal=True`,
    decoders. With `num_key_value_heads` the attention is `keras.layers.GroupQueryAttention` (GQA; 1 is MQA).
    `num_unique=num_layers` with `strategy="sequence"` is the unshared stack of the same depth.

    Args:
        num_layers: the depth: how many blocks the input passes through.
        num_unique: how many distinct layers (of the shared kind) exist.
        strategy: one of `"sequence"`, `"cycle"`, `"cycle_rev"`, `"all"`, `"adjacent"`, `"interleaved"`,
            `"skip"`.
        share: what is shared across depths: `"block"`, `"attention"` or `"ffn"`.
        num_heads: attention (query) heads per block.
        key_dim: size of each attention head.
        ffn_dim: hidden width of each feed-forward.
        num_key_value_heads: None for `keras.layers.MultiHeadAttention`; otherwise the key/value heads of
            `keras.layers.GroupQueryAttention`, which must divide `num_heads`.
        causal: whether the stack is a causal decoder.
        skip_distance: k for `strategy="skip"`; it must divide `num_unique`.
        activation: feed-forward activation.
        gated_ffn: whether the feed-forwards are gated linear units (SwiGLU with `activation="silu"`).
        use_bias: whether the attention and feed-forward projections have biases. In full-integer (int8)
            TFLite a bias is stored as int32 at the scale of its input times the kernel's, so the converter
            writes one int32 bias per use of a shared layer; `export_tflite`'s repair pass replaces them by
            one int8 bias added after each use when the numerics stay within tolerance. With
            `use_bias=False` (as in MobileLLM and LLaMA) there is no bias to copy.
        dropout: dropout rate in every block.
        norm_epsilon: epsilon of the layer norms.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor of shape (batch, length, dim).
        attention_mask: optional boolean mask of shape (batch, length, length), passed to every block.
        training: whether dropout is active.

    Returns:
        A tensor of shape (batch, length, dim).

    Example:
        >>> stack = SharedTransformerStack(6, 3, "cycle_rev", num_heads=4, key_dim=8, ffn_dim=64)
        >>> stack.layer_assignment
        (0, 1, 2, 2, 1, 0)
        >>> tuple(stack(keras.ops.ones((2, 10, 32))).shape)
        (2, 10, 32)

    References:
        Takase & Kiyono 2021, "Lessons on Parameter Sharing across Layers in Transformers" (sequence, cycle,
        cycle_rev).
        Lan et al. 2019, "ALBERT: A Lite BERT for Self-supervised Learning of Language Representations"
        (all-shared, and the block / attention / FFN sharing ablation).
        Liu et al. 2024, "MobileLLM: Optimizing Sub-billion Parameter Language Models for On-Device Use
        Cases" (immediate block-wise repeat).
        Ainslie et al. 2023, "GQA: Training Generalized Multi-Query Transformer Models from Multi-Head
        Checkpoints".
    """

    def __init__(
        self,
        num_layers: int,
        num_unique: int,
        strategy: str,
        share: str = "block",
        num_heads: int | None = None,
        key_dim: int | None = None,
        ffn_dim: int | None = None,
        num_key_value_heads: int | None = None,
        causal: bool = False,
        skip_distance: int = 2,
        activation: Any = "gelu",
        gated_ffn: bool = False,
        use_bias: bool = True,
        dropout: float = 0.0,
        norm_epsilon: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_choice(share, "share", SHARES)
        num_heads = _required(num_heads, "num_heads")
        key_dim = _required(key_dim, "key_dim")
        ffn_dim = _required(ffn_dim, "ffn_dim")
        if num_key_value_heads is not None:
            check_positive_int(num_key_value_heads, "num_key_value_heads")
            if num_heads % num_key_value_heads:
                raise ValueError(
                    "`num_heads` must be divisible by `num_key_value_heads`. "
                    f"Received: num_heads={num_heads}, num_key_value_heads={num_key_value_heads}"
                )
        self._layer_assignment = layer_assignment(num_layers, num_unique, strategy, skip_distance)
        self.num_layers = num_layers
        self.num_unique = num_unique
        self.strategy = strategy
        self.share = share
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.ffn_dim = ffn_dim
        self.num_key_value_heads = num_key_value_heads
        self.causal = causal
        self.skip_distance = skip_distance
        self.activation = activation
        self.gated_ffn = gated_ffn
        self.use_bias = use_bias
        self.dropout = dropout
        self.norm_epsilon = norm_epsilon

    @property
    def layer_assignment(self) -> tuple[int, ...]:
        """The index of the unique layer (block, attention or FFN, per `share`) serving each depth."""
        return self._layer_assignment

    @property
    def blocks(self) -> list[TransformerBlock]:
        """The block at each depth (after `build`). With `share="block"` the same object appears at every
        depth it serves; otherwise each depth has its own block holding the shared sublayer."""
        if self.share == "block":
            return [self.unique_layers[j] for j in self._layer_assignment]
        return list(self.depth_layers)

    def _attention(self, name: str) -> keras.layers.Layer:
        if self.num_key_value_heads is None:
            return keras.layers.MultiHeadAttention(
                self.num_heads,
                self.key_dim,
                dropout=self.dropout,
                use_bias=self.use_bias,
                dtype=self.dtype_policy,
                name=name,
            )
        return keras.layers.GroupQueryAttention(
            head_dim=self.key_dim,
            num_query_heads=self.num_heads,
            num_key_value_heads=self.num_key_value_heads,
            dropout=self.dropout,
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name=name,
        )

    def _feed_forward(self, name: str) -> FeedForward:
        return FeedForward(
            self.ffn_dim,
            activation=self.activation,
            gated=self.gated_ffn,
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name=name,
        )

    def _block(self, name: str, attention: keras.layers.Layer, feed_forward: keras.layers.Layer) -> TransformerBlock:
        return TransformerBlock(
            attention=attention,
            feed_forward=feed_forward,
            causal=self.causal,
            dropout=self.dropout,
            norm_epsilon=self.norm_epsilon,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape: Any) -> None:
        assignment = self._layer_assignment
        if self.share == "block":
            self.unique_layers = [
                self._block(f"block_{j}", self._attention(f"attention_{j}"), self._feed_forward(f"feed_forward_{j}"))
                for j in range(self.num_unique)
            ]
            self.depth_layers = []
        elif self.share == "attention":
            self.unique_layers = [self._attention(f"attention_{j}") for j in range(self.num_unique)]
            self.depth_layers = [
                self._block(f"layer_{i}", self.unique_layers[j], self._feed_forward(f"feed_forward_{i}"))
                for i, j in enumerate(assignment)
            ]
        else:
            self.unique_layers = [self._feed_forward(f"feed_forward_{j}") for j in range(self.num_unique)]
            self.depth_layers = [
                self._block(f"layer_{i}", self._attention(f"attention_{i}"), self.unique_layers[j])
                for i, j in enumerate(assignment)
            ]
        for block in self.blocks:
            if not block.built:
                block.build(input_shape)

    def call(self, inputs: Any, attention_mask: Any = None, training: bool | None = None) -> Any:
        x = inputs
        for block in self.blocks:
            x = block(x, attention_mask=attention_mask, training=training)
        return x

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "num_unique": self.num_unique,
            "strategy": self.strategy,
            "share": self.share,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "ffn_dim": self.ffn_dim,
            "num_key_value_heads": self.num_key_value_heads,
            "causal": self.causal,
            "skip_distance": self.skip_distance,
            "activation": self.activation,
            "gated_ffn": self.gated_ffn,
            "use_bias": self.use_bias,
            "dropout": self.dropout,
            "norm_epsilon": self.norm_epsilon,
        }
