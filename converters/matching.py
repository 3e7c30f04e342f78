"""Find groups of stored weights that hold the same weight, by content only.

Three relations, checked in this order for each pair of candidates:

* ``exact``: byte-identical, with the same dtype and quantization;
* ``transposed``: identical after a permutation of axes (dims of size 1 are ignored), e.g. the
  transposed copy of a tied embedding that ONNX exporters fold for MatMul;
* ``requantized``: stored at different precisions or quantizations (int8 per-tensor against int8
  per-channel, int8 against float) whose real values agree element-wise within the sum of the two
  copies' quantization errors. A permutation may apply as well.

Two different weights of the same shape are never grouped: every element must agree within half a
quantization step of each copy. Constant-valued tensors (zero biases, unit gains) are skipped, since
equal content there is no evidence of shared weights.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from .weights import StoredWeight, is_candidate, is_constant_valued

# Element-wise agreement may exceed the analytic bound by float rounding in the quantizer.
_SLACK = 1.02
_SAMPLE = 512
_CHUNK_ELEMENTS = 1 << 22


@dataclass
class Member:
    weight: StoredWeight
    relation: str  # "kept", "exact", "transposed" or "requantized"
    perm: tuple[int, ...] | None = None  # axes of the kept copy's (squeezed) layout, if transposed
    max_abs_diff: float = 0.0


@dataclass
class Group:
    members: list[Member]
    kind: str = "exact"

    @property
    def kept(self) -> StoredWeight:
        return self.members[0].weight

    @property
    def wasted_bytes(self) -> int:
        return sum(m.weight.nbytes for m in self.members[1:])


@dataclass
class _Prepared:
    w: StoredWeight
    order: int
    raw: np.ndarray  # squeezed raw values
    scale: np.ndarray | float  # broadcastable in the squeezed layout
    zero: np.ndarray | float
    err: np.ndarray | float  # broadcastable half-step error bound (relative part added for floats)
    maxabs: float = 0.0
    mean: float = 0.0
    err_max: float = 0.0
    err_mean: float = 0.0
    rel_err: float = 0.0  # floats: relative half-ulp
    stats: bool = False
    _hash: bytes | None = field(default=None, repr=False)

    @property
    def qkey(self) -> tuple:
        q = self.w.quant
        return (self.w.dtype, q.key() if q is not None else None, self.w.scale_known)

    def content_hash(self) -> bytes:
        if self._hash is None:
            arr = np.ascontiguousarray(self.raw)
            h = hashlib.sha1(arr.view(np.uint8).reshape(-1).data)
            self._hash = h.digest()
        return self._hash


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def _prepare(w: StoredWeight, order: int) -> _Prepared:
    raw = w.load()
    keep = [i for i, d in enumerate(raw.shape) if d != 1]
    sq_shape = tuple(raw.shape[i] for i in keep)
    raw_sq = raw.reshape(sq_shape)
    scale: np.ndarray | float = 1.0
    zero: np.ndarray | float = 0.0
    rel = 0.0
    if w.quant is not None:
        b = w.quant.broadcast_shape(tuple(raw.shape))
        s = np.abs(w.quant.scale.astype(np.float64)).reshape(b)
        z = (w.quant.zero_point.astype(np.float64) if w.quant.zero_point.size else np.zeros(1)).reshape(
            b if w.quant.zero_point.size == w.quant.scale.size else (1,) * len(b)
        )
        scale = s.reshape(tuple(b[i] for i in keep)) if s.size > 1 else float(s.reshape(-1)[0])
        zero = z.reshape(tuple(b[i] for i in keep)) if z.size > 1 else float(z.reshape(-1)[0])
        err: np.ndarray | float = 0.5 * scale
    else:
        rel = {"float16": 2.0**-11, "bfloat16": 2.0**-8}.get(w.dtype, 0.0)
        err = 0.0
    return _Prepared(w, order, raw_sq, scale, zero, err, rel_err=rel)


def _slice0(a: np.ndarray | float, r0: int, r1: int) -> np.ndarray | float:
    if isinstance(a, float) or a.ndim == 0 or a.shape[0] == 1:
        return a
    return a[r0:r1]


def _deq(raw: np.ndarray, scale: np.ndarray | float, zero: np.ndarray | float) -> np.ndarray:
    x = raw.astype(np.float64)
    if not (isinstance(zero, float) and zero == 0.0):
        x = x - zero
    if not (isinstance(scale, float) and scale == 1.0):
        x = x * scale
    return x


def _transpose(a: np.ndarray | float, perm: tuple[int, ...]) -> np.ndarray | float:
    if isinstance(a, float) or a.ndim == 0:
        return a
    return np.transpose(a, perm)


def _ensure_stats(p: _Prepared) -> None:
    if p.stats:
        return
    n = p.raw.size
    rows = p.raw.shape[0] if p.raw.ndim else 1
    step = max(1, _CHUNK_ELEMENTS // max(1, n // max(1, rows)))
    total = 0.0
    maxabs = 0.0
    raw = p.raw if p.raw.ndim else p.raw.reshape(1)
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        x = _deq(raw[r0:r1], _slice0(p.scale, r0, r1), _slice0(p.zero, r0, r1))
        total += float(x.sum())
        maxabs = max(maxabs, float(np.abs(x).max()) if x.size else 0.0)
    p.mean = total / max(1, n)
    p.maxabs = maxabs
    if isinstance(p.err, float):
        p.err_max = p.err_mean = p.err
    else:
        p.err_max = float(np.max(p.err))
        p.err_mean = float(np.mean(p.err))
    if p.rel_err:
        p.err_max += p.rel_err * maxabs
        p.err_mean += p.rel_err * maxabs
    p.stats = True


def _perms(a: tuple[int, ...], b: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Permutations p with a[p] == b, identity first."""
    if sorted(a) != sorted(b):
        return []
    out = [p for p in itertools.permutations(range(len(a))) if tuple(a[i] for i in p) == b]
    ident = tuple(range(len(a)))
    out.sort(key=lambda p: p != ident)
    return out


class _Relation:
    def __init__(self, relation: str, perm: tuple[int, ...] | None, diff: float) -> None:
        self.relation = relation
        self.perm = perm
        self.diff = diff


def relate(a: _Prepared, b: _Prepared) -> _Relation | None:
    """How `b` stores the same weight as `a`, or None. perm p means b == transpose(a, p)."""
    if a.w.numel != b.w.numel:
        return None
    perms = _perms(tuple(a.raw.shape), tuple(b.raw.shape))
    if not perms:
        return None
    ident = tuple(range(a.raw.ndim))
    same_storage = a.qkey == b.qkey
    for p in perms:
        if same_storage:
            if _equal_under(a.raw, b.raw, p):
                return _Relation("exact" if p == ident else "transposed", None if p == ident else p, 0.0)
            continue
        diff = _close_under(a, b, p)
        if diff is not None:
            return _Relation("requantized", None if p == ident else p, diff)
    return None


def _equal_under(a: np.ndarray, b: np.ndarray, p: tuple[int, ...]) -> bool:
    view = np.transpose(a, p) if a.ndim else a
    idx = _sample_index(b.shape)
    if idx is not None and not np.array_equal(view[idx], b[idx]):
        return False
    rows = b.shape[0] if b.ndim else 1
    step = max(1, _CHUNK_ELEMENTS // max(1, b.size // max(1, rows)))
    if not b.ndim:
        return bool(np.array_equal(view, b))
    return all(np.array_equal(view[r0 : r0 + step], b[r0 : r0 + step]) for r0 in range(0, rows, step))


def _sample_index(shape: tuple[int, ...]) -> tuple[np.ndarray, ...] | None:
    n = int(np.prod(shape)) if shape else 1
    if n <= _SAMPLE or not shape:
        return None
    rng = np.random.default_rng(n)
    flat = rng.choice(n, size=_SAMPLE, replace=False)
    return np.unravel_index(flat, shape)


def _close_under(a: _Prepared, b: _Prepared, p: tuple[int, ...]) -> float | None:
    """Max |a - b| if every element agrees within both copies' error bounds under permutation p."""
    _ensure_stats(a)
    _ensure_stats(b)
    av = np.transpose(a.raw, p) if a.raw.ndim else a.raw
    a_scale, a_zero, a_err = (_transpose(x, p) for x in (a.scale, a.zero, a.err))
    ka, kb = 1.0, 1.0
    if not (a.w.scale_known and b.w.scale_known):
        # The graph hides one copy's scale (it is applied after MatMulInteger): fit it by least squares;
        # its rounding error (half a step) then scales by the same factor.
        fa = _deq(av, a_scale, a_zero).reshape(-1)
        fb = _deq(b.raw, b.scale, b.zero).reshape(-1)
        if b.w.scale_known:
            d = float(fa @ fa)
            ka = float(fa @ fb) / d if d else 1.0
        else:
            d = float(fb @ fb)
            kb = float(fa @ fb) / d if d else 1.0
        if ka == 0.0 or kb == 0.0:
            return None
    else:
        tol = _SLACK * (a.err_max + b.err_max) + 1e-7 * max(a.maxabs, b.maxabs)
        if abs(a.maxabs - b.maxabs) > tol or abs(a.mean - b.mean) > _SLACK * (a.err_mean + b.err_mean) + 1e-6 * max(
            a.maxabs, b.maxabs
        ):
            return None
    atol = 1e-7 * max(a.maxabs * abs(ka), b.maxabs * abs(kb)) + 1e-30

    def check(sl: Callable[[np.ndarray | float], np.ndarray | float], idx: tuple | None = None) -> float | None:
        ra = np.asarray(av[idx] if idx is not None else sl(av))
        rb = np.asarray(b.raw[idx] if idx is not None else sl(b.raw))
        pick = (lambda x: x if isinstance(x, float) or x.ndim == 0 else x[idx]) if idx is not None else sl
        fa = _deq(ra, _bcast(pick, a_scale, av.shape), _bcast(pick, a_zero, av.shape)) * ka
        fb = _deq(rb, _bcast(pick, b.scale, b.raw.shape), _bcast(pick, b.zero, b.raw.shape)) * kb
        ea = _bcast(pick, a_err, av.shape)
        eb = _bcast(pick, b.err, b.raw.shape)
        bound = _SLACK * (np.abs(ka) * ea + np.abs(kb) * eb + a.rel_err * np.abs(fa) + b.rel_err * np.abs(fb)) + atol
        d = np.abs(fa - fb)
        if np.any(d > bound):
            return None
        return float(d.max()) if d.size else 0.0

    idx = _sample_index(tuple(b.raw.shape))
    if idx is not None and check(lambda x: x, idx) is None:
        return None
    if not b.raw.ndim:
        return check(lambda x: x)
    rows = b.raw.shape[0]
    step = max(1, _CHUNK_ELEMENTS // max(1, b.raw.size // max(1, rows)))
    worst = 0.0
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        part = check(functools.partial(_slice0, r0=r0, r1=r1))
        if part is None:
            return None
        worst = max(worst, part)
    return worst


def _bcast(pick: Callable, x: np.ndarray | float, shape: tuple[int, ...]) -> np.ndarray | float:
    if isinstance(x, float) or x.ndim == 0:
        return float(x) if not isinstance(x, float) else x
    if x.shape == shape:
        return pick(x)
    return pick(np.broadcast_to(x, shape))


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def find_groups(
    weights: Iterable[StoredWeight],
    min_elements: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[Group]:
    """Group stored weights that hold the same weight. Each group lists its kept copy first."""
    cands: list[_Prepared] = []
    for w in weights:
        if not is_candidate(w, min_elements):
            continue
        p = _prepare(w, len(cands))
        if is_constant_valued(p.raw):
            continue
        cands.append(p)
    uf = _UnionFind(len(cands))
    total = len(cands)
    done = 0

    # 1. Exact copies: same dtype, quantization and bytes.
    by_size: dict[tuple, list[_Prepared]] = {}
    for p in cands:
        by_size.setdefault((p.qkey, p.raw.nbytes), []).append(p)
    for same in by_size.values():
        if len(same) < 2:
            continue
        by_hash: dict[bytes, list[_Prepared]] = {}
        for p in same:
            by_hash.setdefault(p.content_hash(), []).append(p)
        for hits in by_hash.values():
            for other in hits[1:]:
                if np.array_equal(hits[0].raw.reshape(-1), other.raw.reshape(-1)):
                    uf.union(hits[0].order, other.order)

    # 2. Transposed and requantized copies among the remaining classes of equal element count.
    reps = [p for p in cands if uf.find(p.order) == p.order]
    by_numel: dict[tuple[int, tuple[int, ...]], list[_Prepared]] = {}
    for p in reps:
        by_numel.setdefault((p.w.numel, tuple(sorted(p.raw.shape))), []).append(p)
    for bucket in by_numel.values():
        for i, a in enumerate(bucket):
            for b in bucket[i + 1 :]:
                if uf.find(a.order) == uf.find(b.order):
                    continue
                if relate(a, b) is not None:
                    uf.union(a.order, b.order)
            done += 1
            if progress:
                progress(done, total)

    clusters: dict[int, list[_Prepared]] = {}
    for p in cands:
        clusters.setdefault(uf.find(p.order), []).append(p)
    groups: list[Group] = []
    for members in clusters.values():
        if len(members) < 2:
            continue
        kept = max(members, key=lambda p: (p.w.precision_rank, p.w.scale_known, -p.order))
        out = [Member(kept.w, "kept")]
        for m in sorted(members, key=lambda p: p.order):
            if m is kept:
                continue
            r = relate(kept, m)
            if r is None:  # linked through a third copy: describe it by that chain's weakest link
                r = _Relation("requantized", None, float("nan"))
            out.append(Member(m.w, r.relation, r.perm, r.diff))
        kinds = {m.relation for m in out[1:]}
        kind = "requantized" if "requantized" in kinds else ("transposed" if "transposed" in kinds else "exact")
        groups.append(Group(out, kind))
    groups.sort(key=lambda g: -g.wasted_bytes)
    return groups
