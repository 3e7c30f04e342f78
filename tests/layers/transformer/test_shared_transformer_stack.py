import itertools

import numpy as np
import pytest

from edgeshare.layers import SharedTransformerStack, TransformerBlock
from edgeshare.layers.transformer.shared_transformer_stack import STRATEGIES, layer_assignment
from tests.layer_checks import run_layer_test

D, HEADS, KEY, FFN = 8, 2, 4, 16
MHA = 3 * (D * HEADS * KEY + HEADS * KEY) + HEADS * KEY * D + D
FF = D * FFN + FFN + FFN * D + D
NORMS = 2 * 2 * D


@pytest.mark.parametrize(
    ("num_layers", "num_unique", "strategy", "skip_distance", "expected"),
    [
        (6, 3, "sequence", 2, (0, 0, 1, 1, 2, 2)),
        (6, 3, "cycle", 2, (0, 1, 2, 0, 1, 2)),
        (6, 3, "cycle_rev", 2, (0, 1, 2, 2, 1, 0)),
        (5, 3, "cycle_rev", 2, (0, 1, 2, 2, 1)),  # Takase & Kiyono: the last round reversed, cut at N
        (7, 3, "cycle_rev", 2, (0, 1, 2, 0, 1, 2, 2)),
        (4, 1, "all", 2, (0, 0, 0, 0)),
        (4, 2, "adjacent", 2, (0, 0, 1, 1)),
        (6, 4, "interleaved", 2, (0, 1, 0, 2, 0, 3)),
        (6, 5, "interleaved", 2, (0, 2, 1, 3, 0, 4)),
        (5, 3, "interleaved", 2, (0, 1, 0, 2, 0)),
        (8, 4, "skip", 2, (0, 1, 0, 1, 2, 3, 2, 3)),
        (6, 3, "skip", 1, (0, 0, 1, 1, 2, 2)),  # k = 1 is sequence
        (6, 3, "skip", 3, (0, 1, 2, 0, 1, 2)),  # k = M is cycle
    ],
)
def test_layer_assignment(num_layers, num_unique, strategy, skip_distance, expected):
    assert layer_assignment(num_layers, num_unique, strategy, skip_distance) == expected
    stack = SharedTransformerStack(
        num_layers, num_unique, strategy, num_heads=HEADS, key_dim=KEY, ffn_dim=FFN, skip_distance=skip_distance
    )
    assert stack.layer_assignment == expected


def test_every_valid_assignment_uses_each_unique_layer():
    valid = 0
    for n, strategy, k in itertools.product(range(1, 11), STRATEGIES, (1, 2, 3)):
        for m in range(1, n + 1):
            try:
                a = layer_assignment(n, m, strategy, k)
            except ValueError:
                continue
            valid += 1
            assert len(a) == n and set(a) == set(range(m)), (n, m, strategy, k, a)
            if strategy == "skip":  # layer i shares with layer i - k inside each window of k * N/M layers
                window = k * (n // m)
                assert all(a[i] == a[i - k] for i in range(n) if i % window >= k)
    assert valid > 150


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((6, 4, "sequence"), {}, r"`num_layers` must be divisible by `num_unique` for strategy='sequence'. "
                                 r"Received: num_layers=6, num_unique=4"),
        ((6, 4, "adjacent"), {}, r"`num_layers` must be divisible by `num_unique` for strategy='adjacent'. "
                                 r"Received: num_layers=6, num_unique=4"),
        ((6, 4, "skip"), {}, r"`num_layers` must be divisible by `num_unique` for strategy='skip'. "
                             r"Received: num_layers=6, num_unique=4"),
        ((6, 3, "skip"), {"skip_distance": 2}, r"`num_unique` must be divisible by `skip_distance` for "
                                               r"strategy='skip'. Received: num_unique=3, skip_distance=2"),
        ((6, 3, "skip"), {"skip_distance": 0}, r"`skip_distance` must be a positive integer. "
                                               r"Received: skip_distance=0"),
        ((4, 2, "all"), {}, r"`num_unique` must be 1 for strategy='all', where one layer serves every depth. "
                            r"Received: num_unique=2"),
        ((6, 3, "interleaved"), {}, r"`num_unique` must be at least 4 for strategy='interleaved' with "
                                    r"num_layers=6: .* Received: num_layers=6, num_unique=3"),
        ((4, 5, "cycle"), {}, r"`num_unique` must not exceed `num_layers`: every unique layer needs a depth to "
                              r"serve. Received: num_layers=4, num_unique=5"),
        ((0, 1, "cycle"), {}, r"`num_layers` must be a positive integer. Received: num_layers=0"),
        ((4, 0, "cycle"), {}, r"`num_unique` must be a positive integer. Received: num_unique=0"),
        ((4, 2, "zigzag"), {}, r"`strategy` must be one of sequence, cycle, cycle_rev, all, adjacent, "
                               r"interleaved, skip. Received: strategy='zigzag'"),
        ((4, 2, "cycle"), {"share": "norm"}, r"`share` must be one of block, attention, ffn. "
                                             r"Received: share='norm'"),
        ((4, 2, "cycle"), {"num_key_value_heads": 3}, r"`num_heads` must be divisible by "
                                                      r"`num_key_value_heads`. Received: num_heads=2, "
                                                      r"num_key_value_heads=3"),
        ((4, 2, "cycle"), {"ffn_dim": None}, r"`ffn_dim` is required. Received: ffn_dim=None"),
    ],
)
def test_shared_transformer_stack_errors(args, kwargs, match):
    dims = {"num_heads": HEADS, "key_dim": KEY, "ffn_dim": FFN, **kwargs}
    with pytest.raises(ValueError, match=match):
        SharedTransformerStack(*args, **dims)


def _unshared_copy(stack, x):
    """The unshared stack of the same depth: one fresh block per depth, with the weights the shared stack
    uses at that depth copied in, sublayer by sublayer."""
    out = x
    for src in stack.blocks:
        dst = TransformerBlock(HEADS, KEY, FFN, causal=stack.causal)
        dst.build(x.shape)
        if stack.num_key_value_heads is not None or stack.gated_ffn:
            raise AssertionError("the copy is for MultiHeadAttention and plain FFN stacks")
        for a, b in ((dst.attention_layer, src.attention_layer), (dst.feed_forward_layer, src.feed_forward_layer),
                     (dst.attention_norm, src.attention_norm), (dst.feed_forward_norm, src.feed_forward_norm)):
            a.set_weights(b.get_weights())
        out = dst(out)
    return np.asarray(out)


@pytest.mark.parametrize(
    ("num_layers", "num_unique", "strategy", "share"),
    [
        (6, 3, "sequence", "block"), (6, 3, "cycle", "block"), (5, 3, "cycle_rev", "block"),
        (4, 1, "all", "block"), (4, 2, "adjacent", "block"), (6, 4, "interleaved", "block"),
        (8, 4, "skip", "block"), (6, 2, "cycle", "attention"), (6, 2, "cycle_rev", "ffn"),
    ],
)
def test_stack_matches_unshared_copy(num_layers, num_unique, strategy, share):
    x = np.random.default_rng(0).standard_normal((2, 5, D)).astype("float32")
    stack = SharedTransformerStack(
        num_layers, num_unique, strategy, share=share, num_heads=HEADS, key_dim=KEY, ffn_dim=FFN, causal=True
    )
    shared_out = np.asarray(stack(x))
    # Same kernels in the same order: only float32 summation order can differ, hence 1e-5.
    np.testing.assert_allclose(shared_out, _unshared_copy(stack, x), atol=1e-5)
    # The sharing is real: the stack holds exactly num_unique distinct shared sublayers.
    kind = {"block": "blocks", "attention": "attention_layer", "ffn": "feed_forward_layer"}[share]
    objs = stack.blocks if kind == "blocks" else [getattr(b, kind) for b in stack.blocks]
    assert len({id(o) for o in objs}) == num_unique
    for i, j in enumerate(stack.layer_assignment):
        assert objs[i] is stack.unique_layers[j]


def test_stack_causal_masks_the_future():
    x = np.random.default_rng(0).standard_normal((1, 6, D)).astype("float32")
    stack = SharedTransformerStack(4, 2, "cycle", num_heads=HEADS, key_dim=KEY, ffn_dim=FFN, causal=True)
    y = np.asarray(stack(x))
    x2 = x.copy()
    x2[:, 4:] += 1.0  # changing positions 4 and 5 must not change the outputs at positions 0..3
    y2 = np.asarray(stack(x2))
    np.testing.assert_allclose(y2[:, :4], y[:, :4], atol=1e-6)
    assert not np.allclose(y2[:, 4:], y[:, 4:], atol=1e-3)


@pytest.mark.parametrize(
    ("num_layers", "num_unique", "strategy", "share", "weights", "params"),
    [
        (6, 3, "cycle_rev", "block", 3 * 16, 3 * (MHA + FF + NORMS)),
        (4, 3, "interleaved", "attention", 3 * 8 + 4 * 8, 3 * MHA + 4 * (FF + NORMS)),
        (4, 2, "skip", "ffn", 2 * 4 + 4 * 12, 2 * FF + 4 * (MHA + NORMS)),
    ],
)
def test_stack_shared_checks(tmp_path, num_layers, num_unique, strategy, share, weights, params):
    x = np.random.default_rng(0).standard_normal((2, 5, D)).astype("float32")

    def check(stack):
        blocks = stack.blocks
        assert len(blocks) == num_layers
        for i in range(num_layers):
            for j in range(num_layers):
                same = stack.layer_assignment[i] == stack.layer_assignment[j]
                if share == "block":
                    assert (blocks[i] is blocks[j]) == same
                elif share == "attention":
                    assert (blocks[i].attention_layer is blocks[j].attention_layer) == same
                    assert (blocks[i].feed_forward_layer is blocks[j].feed_forward_layer) == (i == j)
                else:
                    assert (blocks[i].feed_forward_layer is blocks[j].feed_forward_layer) == same
                    assert (blocks[i].attention_layer is blocks[j].attention_layer) == (i == j)

    run_layer_test(
        lambda dtype=None: SharedTransformerStack(
            num_layers, num_unique, strategy, share=share, num_heads=HEADS, key_dim=KEY, ffn_dim=FFN, dtype=dtype,
            name="stack",
        ),
        x,
        expected_num_trainable_weights=weights,
        expected_params=params,
        check_sharing=check,
        tmp_path=tmp_path,
    )


def test_stack_gqa_gated_adjacent_decoder(tmp_path):
    """MobileLLM's recipe: GQA (keras GroupQueryAttention), SwiGLU without biases, each block repeated back to
    back."""
    x = np.random.default_rng(0).standard_normal((2, 5, D)).astype("float32")
    gqa = D * HEADS * KEY + 2 * D * 1 * KEY + HEADS * KEY * D  # q, one k and one v head, output; no biases
    swiglu = 2 * D * FFN + FFN * D

    def check(stack):
        assert stack.layer_assignment == (0, 0, 1, 1)
        assert stack.blocks[0] is stack.blocks[1] and stack.blocks[2] is stack.blocks[3]
        assert stack.blocks[1] is not stack.blocks[2]
        assert type(stack.blocks[0].attention_layer).__name__ == "GroupedQueryAttention"

    layer = run_layer_test(
        lambda dtype=None: SharedTransformerStack(
            4, 2, "adjacent", num_heads=HEADS, key_dim=KEY, ffn_dim=FFN, num_key_value_heads=1,
            activation="silu", gated_ffn=True, use_bias=False, causal=True, dtype=dtype, name="stack",
        ),
        x,
        expected_num_trainable_weights=2 * (4 + 3 + 4),
        expected_params=2 * (gqa + swiglu + NORMS),
        check_sharing=check,
        tmp_path=tmp_path,
    )
    from tests.layers import reference

    expected = x.astype("float64")
    for block in layer.blocks:
        expected = reference.block(expected, block)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)
