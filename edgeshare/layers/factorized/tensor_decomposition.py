"""Decompose trained convolution kernels into CP or Tucker-2 factors, optionally shared across kernels.

Kernels are `(kh, kw, in_channels, filters)` arrays, as Keras stores them. Several kernels of the same
shape can be decomposed jointly with one pair of channel factors (a coupled decomposition), which is how
`CPConv2D` and `TuckerConv2D` layers share a `CPFactors` / `TuckerFactors`.

* CP: alternating least squares (Kolda & Bader 2009, section 3.4), with the channel factors' normal
  equations summed over the kernels that share them.
* Tucker-2: HOSVD initialization refined by HOOI (De Lathauwer et al. 2000), on the channel modes only.

Every result records the relative reconstruction error `||K - K_hat||_F / ||K||_F` of each kernel.

This module knows no edgeshare layer: `cp_conv2d_from_conv2d` (in cp_conv2d.py) and
`tucker_conv2d_from_conv2d` (in tucker_conv2d.py) build layers from its results, so the imports run one
way only (layers -> decompositions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from edgeshare.validation import check_positive_int, normalize_int_pair


@dataclass
class CPDecomposition:
    """`K_l[h, w, i, o] = sum_r height[l][h, r] width[l][w, r] input_factor[i, r] output_factor[r, o]`."""

    height_factors: list[np.ndarray]  # (kh, rank) per kernel
    width_factors: list[np.ndarray]  # (kw, rank) per kernel
    input_factor: np.ndarray  # (in_channels, rank), shared
    output_factor: np.ndarray  # (rank, filters), shared
    relative_errors: list[float]
    iterations: int

    def kernel(self, index: int) -> np.ndarray:
        return np.einsum(
            "hr,wr,ir,ro->hwio",
            self.height_factors[index],
            self.width_factors[index],
            self.input_factor,
            self.output_factor,
        )


@dataclass
class TuckerDecomposition:
    """`K_l[h, w, i, o] = sum_{r, s} input_factor[i, r] cores[l][h, w, r, s] output_factor[s, o]`."""

    cores: list[np.ndarray]  # (kh, kw, r_in, r_out) per kernel
    input_factor: np.ndarray  # (in_channels, r_in), orthonormal columns, shared
    output_factor: np.ndarray  # (r_out, filters), orthonormal rows, shared
    relative_errors: list[float]
    iterations: int

    def kernel(self, index: int) -> np.ndarray:
        return np.einsum("ir,hwrs,so->hwio", self.input_factor, self.cores[index], self.output_factor)


def _check_kernels(kernels: Any) -> list[np.ndarray]:
    ks = [np.asarray(k, dtype=np.float64) for k in (kernels if isinstance(kernels, (list, tuple)) else [kernels])]
    if not ks:
        raise ValueError("`kernels` must hold at least one kernel. Received: kernels=[]")
    shapes = {k.shape for k in ks}
    if any(k.ndim != 4 for k in ks) or len(shapes) != 1:
        raise ValueError(
            "`kernels` must be 4-D (kh, kw, in_channels, filters) arrays of one shape. "
            f"Received: shapes={sorted(shapes)}"
        )
    return ks


def _relative_error(k: np.ndarray, approx: np.ndarray) -> float:
    norm = float(np.linalg.norm(k))
    return float(np.linalg.norm(k - approx)) / norm if norm else 0.0


def _leading_vectors(mat: np.ndarray, r: int, rng: np.random.Generator) -> np.ndarray:
    """The r leading left singular vectors of `mat`, padded with random unit columns past its rank."""
    u, _, _ = np.linalg.svd(mat, full_matrices=False)
    u = u[:, :r]
    if u.shape[1] < r:
        extra = rng.standard_normal((mat.shape[0], r - u.shape[1]))
        u = np.concatenate([u, extra / np.linalg.norm(extra, axis=0, keepdims=True)], axis=1)
    return u


def _solve(rhs: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """rhs @ inv(gram) for a symmetric gram, with a tiny ridge so rank-deficient grams stay solvable."""
    ridge = 1e-12 * max(float(np.trace(gram)), 1e-30)
    return np.linalg.solve(gram + ridge * np.eye(gram.shape[0]), rhs.T).T


def cp_decompose(kernels: Any, rank: int, *, max_iter: int = 500, tol: float = 1e-9, seed: int = 0) -> CPDecomposition:
    """Rank-`rank` CP decomposition of one kernel, or of several kernels sharing the channel factors.

    Args:
        kernels: one `(kh, kw, in, out)` array or a list of arrays of one shape.
        rank: the CP rank.
        max_iter: ALS sweeps at most.
        tol: stop when the mean relative error improves by less than this in a sweep.
        seed: seeds the random columns used past the rank of an unfolding.
    """
    check_positive_int(rank, "rank")
    ks = _check_kernels(kernels)
    rng = np.random.default_rng(seed)
    kh, kw, cin, cout = ks[0].shape
    # Initialize each factor from the leading singular vectors of its unfolding (HOSVD-style).
    c = _leading_vectors(np.concatenate([k.transpose(2, 0, 1, 3).reshape(cin, -1) for k in ks], axis=1), rank, rng)
    d = _leading_vectors(np.concatenate([k.transpose(3, 0, 1, 2).reshape(cout, -1) for k in ks], axis=1), rank, rng)
    a = [_leading_vectors(k.reshape(kh, -1), rank, rng) for k in ks]
    b = [_leading_vectors(k.transpose(1, 0, 2, 3).reshape(kw, -1), rank, rng) for k in ks]
    previous = np.inf
    errors: list[float] = []
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the sweep count is reported)
        for i, k in enumerate(ks):
            # Each update solves the normal equations of one factor with the others fixed (MTTKRP / Gram).
            cd = (c.T @ c) * (d.T @ d)
            a[i] = _solve(np.einsum("hwio,wr,ir,or->hr", k, b[i], c, d, optimize=True), (b[i].T @ b[i]) * cd)
            b[i] = _solve(np.einsum("hwio,hr,ir,or->wr", k, a[i], c, d, optimize=True), (a[i].T @ a[i]) * cd)
        c = _solve(
            sum(np.einsum("hwio,hr,wr,or->ir", k, a[i], b[i], d, optimize=True) for i, k in enumerate(ks)),
            sum((a[i].T @ a[i]) * (b[i].T @ b[i]) for i in range(len(ks))) * (d.T @ d),
        )
        d = _solve(
            sum(np.einsum("hwio,hr,wr,ir->or", k, a[i], b[i], c, optimize=True) for i, k in enumerate(ks)),
            sum((a[i].T @ a[i]) * (b[i].T @ b[i]) for i in range(len(ks))) * (c.T @ c),
        )
        # Keep the shared factors' columns at unit norm; the per-kernel height factors carry the scale.
        cn = np.linalg.norm(c, axis=0) + 1e-30
        dn = np.linalg.norm(d, axis=0) + 1e-30
        c, d = c / cn, d / dn
        a = [ai * (cn * dn) for ai in a]
        errors = [
            _relative_error(k, np.einsum("hr,wr,ir,or->hwio", a[i], b[i], c, d, optimize=True))
            for i, k in enumerate(ks)
        ]
        mean = float(np.mean(errors))
        if previous - mean < tol:
            break
        previous = mean
    return CPDecomposition(
        [x.astype(np.float32) for x in a],
        [x.astype(np.float32) for x in b],
        c.astype(np.float32),
        d.T.astype(np.float32),
        errors,
        it,
    )


def tucker_decompose(
    kernels: Any, ranks: int | tuple[int, int], *, max_iter: int = 50, tol: float = 1e-10
) -> TuckerDecomposition:
    """Tucker-2 decomposition (channel modes) of one kernel, or of several sharing the channel factors.

    Args:
        kernels: one `(kh, kw, in, out)` array or a list of arrays of one shape.
        ranks: an int or a pair `(input_rank, output_rank)`, at most the channel counts.
        max_iter: HOOI sweeps at most.
        tol: stop when the mean relative error improves by less than this in a sweep.
    """
    r_in, r_out = normalize_int_pair(ranks, "ranks")
    ks = _check_kernels(kernels)
    _, _, cin, cout = ks[0].shape
    if r_in > cin or r_out > cout:
        raise ValueError(
            "Tucker ranks cannot exceed the channel counts. "
            f"Received: ranks={(r_in, r_out)}, in_channels={cin}, filters={cout}"
        )
    rng = np.random.default_rng(0)

    def in_unfolding(ms: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([m.transpose(2, 0, 1, 3).reshape(m.shape[2], -1) for m in ms], axis=1)

    def out_unfolding(ms: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([m.transpose(3, 0, 1, 2).reshape(m.shape[3], -1) for m in ms], axis=1)

    # HOSVD start, then HOOI: each factor from the kernels projected onto the other factor.
    u = _leading_vectors(in_unfolding(ks), r_in, rng)
    v = _leading_vectors(out_unfolding(ks), r_out, rng)
    previous = np.inf
    errors: list[float] = []
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the sweep count is reported)
        u = _leading_vectors(in_unfolding([np.einsum("hwio,os->hwis", k, v) for k in ks]), r_in, rng)
        v = _leading_vectors(out_unfolding([np.einsum("hwio,ir->hwro", k, u) for k in ks]), r_out, rng)
        cores = [np.einsum("hwio,ir,os->hwrs", k, u, v) for k in ks]
        errors = [_relative_error(k, np.einsum("ir,hwrs,os->hwio", u, g, v)) for k, g in zip(ks, cores)]
        mean = float(np.mean(errors))
        if previous - mean < tol:
            break
        previous = mean
    cores = [np.einsum("hwio,ir,os->hwrs", k, u, v) for k in ks]
    return TuckerDecomposition(
        [g.astype(np.float32) for g in cores], u.astype(np.float32), v.T.astype(np.float32), errors, it
    )


def check_conv2d_layers(convs: Any) -> list[Any]:
    """`convs` (one layer or a list) as a list of built, dense, undilated, channels_last `keras.layers.Conv2D`
    layers of one kernel shape: the layers `cp_conv2d_from_conv2d` and `tucker_conv2d_from_conv2d` accept."""
    convs = list(convs) if isinstance(convs, (list, tuple)) else [convs]
    if not convs:
        raise ValueError("`convs` must hold at least one Conv2D. Received: convs=[]")
    for conv in convs:
        if not isinstance(conv, keras.layers.Conv2D) or not conv.built:
            raise TypeError(f"`convs` must be built keras.layers.Conv2D layers. Received: conv={conv!r}")
        if conv.groups != 1 or tuple(conv.dilation_rate) != (1, 1) or conv.data_format != "channels_last":
            raise ValueError(
                "Only dense (groups=1), undilated, channels_last convolutions can be decomposed. "
                f"Received: groups={conv.groups}, dilation_rate={conv.dilation_rate}, "
                f"data_format={conv.data_format!r}"
            )
    shapes = {tuple(c.kernel.shape) for c in convs}
    if len(shapes) != 1:
        raise ValueError(
            f"Convolutions that share factors must have one kernel shape. Received: shapes={sorted(shapes)}"
        )
    return convs


def decomposed_layers(
    convs: list[Any],
    dec: CPDecomposition | TuckerDecomposition,
    factors: Any,
    make_layer: Callable[..., Any],
    set_own_weights: Callable[[Any, int], None],
    name_suffix: str,
) -> list[Any]:
    """One built layer per convolution, all holding `factors`, whose channel factors are set here from `dec`.

    `make_layer(factors=, name=, strides=, padding=, activation=, use_bias=, dtype=)` makes a layer with its
    convolution's arguments; `set_own_weights(layer, i)` sets the layer's own weights (spatial factors or core)
    from `dec`. Each layer takes its convolution's bias and records its kernel's relative reconstruction error.
    """
    factors.input_factor.assign(dec.input_factor)
    factors.output_factor.assign(dec.output_factor)
    layers = []
    for i, conv in enumerate(convs):
        layer = make_layer(
            factors=factors,
            name=conv.name + name_suffix,
            strides=tuple(conv.strides),
            padding=conv.padding,  # Conv2D accepts "same" and "valid" only, as the decomposed layers do
            activation=conv.activation,
            use_bias=conv.use_bias,
            dtype=conv.dtype_policy,
        )
        layer.build((None, None, None, conv.kernel.shape[2]))
        set_own_weights(layer, i)
        if conv.use_bias:
            layer.bias.assign(conv.bias.numpy())
        layer.reconstruction_error = dec.relative_errors[i]
        layers.append(layer)
    return layers
