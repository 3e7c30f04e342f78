"""Find groups of stored weights that hold the same weight, by content only.

Three relations, checked in this order for each pair of candidates:

* ``exact``: byte-identical, with the same dtype and quantization;
* ``transposed``: identical after a permutation of axes (dims of size 1 are ignored), e.g. the
  transposed copy of a tied embedding that ONNX exporters fold for MatMul;
* ``requantized``: stored at different precisions or quantizations (int8 per-tensor against int8
  per-channel, int8 against float) whose real values agree element-wise within the sum of the two
  copies' quantization errors. A permutation may apply as well.

Two different weights of the same shape are never grouped: every element must agree within half a
quantization step of each copy (plus float rounding), with one bounded exception for saturation. A
quantizer that gives a weight a range narrower than its own (the stock full-int8 GATHER table takes the
activations' range) clips its outliers: at most `SATURATED` (0.1%) of the elements may disagree, and
only when each sits exactly at its copy's quantization limit (qmin or qmax, or -qmax for the narrow
signed range) with the other copy beyond that limit, on the side the clipping cut off. A copy whose
extra disagreements are anywhere else, or more than 0.1%, is another weight. The coarseness guard
(`_LOOSEST`) still applies to every pair. Constant-valued tensors (zero biases, unit gains) are
skipped, since equal content there is no evidence of shared weights.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..formats.weights import StoredWeight, is_candidate, is_constant_valued

# Element-wise agreement may exceed the analytic bound by float rounding in the quantizer.
_SLACK = 1.02
_SAMPLE = 512
# Full comparisons walk the tensors in chunks of about this many elements, so the temporary arrays
# stay a few MB whatever the weight's size.
_CHUNK_ELEMENTS = 1 << 20
_PEEK = 4096
# The largest mean error bound, relative to the values' standard deviation, that still counts as a match.
_LOOSEST = 0.25
# The largest fraction of a requantized copy's elements that may be clipped at its quantization limits.
SATURATED = 1e-3


@dataclass
class Member:
    weight: StoredWeight
    relation: str  # "kept", "exact", "transposed" or "requantized"
    perm: tuple[int, ...] | None = None  # axes of the kept copy's (squeezed) layout, if transposed
    max_abs_diff: float = 0.0
    saturated: int = 0  # elements clipped at a quantization limit (see SATURATED)


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
class Prepared:
    w: StoredWeight
    order: int
    raw: np.ndarray  # squeezed raw values (a view into the file where possible)
    scale: np.ndarray | float  # broadcastable in the squeezed layout
    zero: np.ndarray | float
    err: np.ndarray | float  # half a quantization step, broadcastable
    rel_err: float = 0.0  # floats: relative half-ulp
    _peek: bytes | None = field(default=None, repr=False)
    _hash: bytes | None = field(default=None, repr=False)
    _maxabs: float | None = field(default=None, repr=False)

    @property
    def qkey(self) -> tuple:
        q = self.w.quant
        return (self.w.dtype, q.key() if q is not None else None, self.w.scale_known)

    def _bytes(self) -> memoryview:
        return np.ascontiguousarray(self.raw).reshape(-1).view(np.uint8).data

    def peek(self) -> bytes:
        """A cheap fingerprint: the size and three 4 KB slices. Equal content has equal peeks."""
        if self._peek is None:
            b = self._bytes()
            n = b.nbytes
            parts = [b[:_PEEK], b[max(0, n // 2 - _PEEK // 2) : n // 2 + _PEEK // 2], b[max(0, n - _PEEK) :]]
            self._peek = hashlib.sha1(str(n).encode() + b"".join(bytes(p) for p in parts)).digest()
        return self._peek

    def content_hash(self) -> bytes:
        if self._hash is None:
            h = hashlib.sha1()
            b = self._bytes()
            step = 1 << 24
            for i in range(0, b.nbytes, step):
                h.update(b[i : i + step])
            self._hash = h.digest()
        return self._hash

    def maxabs(self) -> float:
        if self._maxabs is None:
            best = 0.0
            for sl in _row_chunks(self.raw):
                x = dequantize(self.raw[sl], _slice0(self.scale, sl), _slice0(self.zero, sl))
                if x.size:
                    best = max(best, float(np.abs(x).max()))
            self._maxabs = best
        return self._maxabs


def prepare(w: StoredWeight, order: int) -> Prepared:
    raw = w.load()
    keep = [i for i, d in enumerate(raw.shape) if d != 1]
    sq_shape = tuple(raw.shape[i] for i in keep)
    raw_sq = raw.reshape(sq_shape)
    scale: np.ndarray | float = 1.0
    zero: np.ndarray | float = 0.0
    rel = 0.0
    err: np.ndarray | float = 0.0
    if w.quant is not None:
        b = w.quant.broadcast_shape(tuple(raw.shape))
        s = np.abs(w.quant.scale.astype(np.float32)).reshape(b)
        zsize = w.quant.zero_point.size
        z = (w.quant.zero_point.astype(np.float32) if zsize else np.zeros(1, np.float32)).reshape(
            b if zsize == w.quant.scale.size else (1,) * len(b)
        )
        scale = s.reshape(tuple(b[i] for i in keep)) if s.size > 1 else float(s.reshape(-1)[0])
        zero = z.reshape(tuple(b[i] for i in keep)) if z.size > 1 else float(z.reshape(-1)[0])
        err = 0.5 * scale
    else:
        rel = {"float16": 2.0**-11, "bfloat16": 2.0**-8}.get(w.dtype, 0.0)
    return Prepared(w, order, raw_sq, scale, zero, err, rel_err=rel)


def _row_chunks(a: np.ndarray) -> list[slice]:
    """Slices along axis 0 of about _CHUNK_ELEMENTS elements each."""
    if a.ndim == 0:
        return [slice(None)]
    rows = a.shape[0]
    per_row = max(1, a.size // max(1, rows))
    step = max(1, _CHUNK_ELEMENTS // per_row)
    return [slice(r, min(rows, r + step)) for r in range(0, rows, step)]


def _slice0(a: np.ndarray | float, sl: slice) -> np.ndarray | float:
    if isinstance(a, float) or a.ndim == 0 or a.shape[0] == 1:
        return a
    return a[sl]


def dequantize(raw: np.ndarray, scale: np.ndarray | float, zero: np.ndarray | float) -> np.ndarray:
    x = raw.astype(np.float32)
    if not (isinstance(zero, float) and zero == 0.0):
        x = x - zero
    if not (isinstance(scale, float) and scale == 1.0):
        x = x * scale
    return x


def _transpose(a: np.ndarray | float, perm: tuple[int, ...]) -> np.ndarray | float:
    if isinstance(a, float) or a.ndim == 0:
        return a
    return np.transpose(a, perm)


def _perms(a: tuple[int, ...], b: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Permutations p with a[p] == b, identity first."""
    if sorted(a) != sorted(b):
        return []
    out = [p for p in itertools.permutations(range(len(a))) if tuple(a[i] for i in p) == b]
    ident = tuple(range(len(a)))
    out.sort(key=lambda p: p != ident)
    return out


class Relation:
    def __init__(self, relation: str, perm: tuple[int, ...] | None, diff: float, saturated: int = 0) -> None:
        self.relation = relation
        self.perm = perm
        self.diff = diff
        self.saturated = saturated  # elements clipped at one copy's quantization limits


def relate(a: Prepared, b: Prepared, full: bool = True) -> Relation | None:
    """How `b` stores the same weight as `a`, or None. perm p means b == transpose(a, p).

    `full=False` decides on a sample of elements only: for copies already proven to be one weight
    (members of one group), where only the relation and the permutation are wanted."""
    if a.w.numel != b.w.numel:
        return None
    same_storage = a.qkey == b.qkey
    perms = _perms(tuple(a.raw.shape), tuple(b.raw.shape))
    # The same bytes under another shape (a reshaped copy) are one stored weight too.
    reshaped = a.raw.shape != b.raw.shape and same_storage
    if reshaped and _equal_under(a.raw.reshape(-1), b.raw.reshape(-1), (0,), full):
        return Relation("exact", None, 0.0)
    if not perms:
        return None
    ident = tuple(range(a.raw.ndim))
    for p in perms:
        if same_storage:
            if _equal_under(a.raw, b.raw, p, full):
                return Relation("exact" if p == ident else "transposed", None if p == ident else p, 0.0)
            continue
        close = _close_under(a, b, p, full)
        if close is not None:
            return Relation("requantized", None if p == ident else p, close[0], close[1])
    return None


def _sample_index(shape: tuple[int, ...]) -> tuple[np.ndarray, ...] | None:
    n = int(np.prod(shape)) if shape else 1
    if n <= _SAMPLE or not shape:
        return None
    rng = np.random.default_rng(n)
    flat = rng.choice(n, size=_SAMPLE, replace=False)
    return np.unravel_index(flat, shape)


def _equal_under(a: np.ndarray, b: np.ndarray, p: tuple[int, ...], full: bool = True) -> bool:
    view = np.transpose(a, p) if a.ndim else a
    idx = _sample_index(b.shape)
    if idx is not None and not np.array_equal(view[idx], b[idx]):
        return False
    if not full and idx is not None:
        return True
    return all(np.array_equal(view[sl], b[sl]) for sl in _row_chunks(b))


def _limits(p: Prepared) -> tuple[int, int] | None:
    """The raw values at which `p`'s quantization clips (integer copies with a known scale), or None.

    A value clipped to the narrow range of a signed type (-127 for int8) counts as at the limit too."""
    if p.w.quant is None or not p.w.scale_known or p.raw.dtype.kind not in "iu":
        return None
    info = np.iinfo(p.raw.dtype)
    low = -int(info.max) if info.min < 0 else int(info.min)
    return low, int(info.max)


def saturation_allowance(numel: int) -> int:
    """How many elements of a requantized copy may sit clipped at its quantization limits (SATURATED of
    them, rounded down): a handful of outliers saturate when a weight is quantized with a range narrower
    than its own (the stock full-int8 GATHER table takes the activations' range)."""
    return int(numel * SATURATED)


def _saturated(raw: np.ndarray, limits: tuple[int, int] | None, mine: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Elements where this copy holds its limit and the other copy lies beyond it: clipped, not different."""
    if limits is None:
        return np.zeros(raw.shape, bool)
    low, high = limits
    return ((raw >= high) & (other > mine)) | ((raw <= low) & (other < mine))


def _close_under(a: Prepared, b: Prepared, p: tuple[int, ...], full: bool = True) -> tuple[float, int] | None:
    """(max |a - b| over the elements that agree within both copies' error bounds, the count of clipped
    elements) under permutation p, if
    every element does, except at most `saturation_allowance` elements clipped at one copy's
    quantization limits (each exactly at the limit, the other copy beyond it)."""
    av = np.transpose(a.raw, p) if a.raw.ndim else a.raw
    a_scale, a_zero, a_err = (_transpose(x, p) for x in (a.scale, a.zero, a.err))
    hidden = not (a.w.scale_known and b.w.scale_known)
    idx = _sample_index(tuple(b.raw.shape))
    a_limits, b_limits = _limits(a), _limits(b)
    allowance = saturation_allowance(b.w.numel)

    def pick(x: np.ndarray | float, shape: tuple[int, ...], sel: Any) -> np.ndarray | float:
        if isinstance(x, float) or x.ndim == 0:
            return float(x)
        if sel is None:
            return x
        if isinstance(sel, slice):
            return _slice0(x, sel)
        return np.broadcast_to(x, shape)[sel]

    def values(sel: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any, Any]:
        ra = np.asarray(av[sel] if sel is not None else av)
        rb = np.asarray(b.raw[sel] if sel is not None else b.raw)
        fa = dequantize(ra, pick(a_scale, av.shape, sel), pick(a_zero, av.shape, sel))
        fb = dequantize(rb, pick(b.scale, b.raw.shape, sel), pick(b.zero, b.raw.shape, sel))
        return ra, rb, fa, fb, pick(a_err, av.shape, sel), pick(b.err, b.raw.shape, sel)

    ka = kb = 1.0
    if hidden:
        # The graph hides one copy's scale (applied after MatMulInteger): fit it by least squares on the
        # whole tensor; that copy's rounding error (half a step) then scales by the same factor.
        _, _, fa, fb, _, _ = values(None)
        fa64, fb64 = fa.reshape(-1).astype(np.float64), fb.reshape(-1).astype(np.float64)
        if b.w.scale_known:
            d = float(fa64 @ fa64)
            ka = float(fa64 @ fb64) / d if d else 0.0
        else:
            d = float(fb64 @ fb64)
            kb = float(fa64 @ fb64) / d if d else 0.0
        if ka == 0.0 or kb == 0.0:
            return None

    def check(sel: Any, atol: float) -> tuple[float, int] | None:
        """(max |a - b| over the agreeing elements, how many are excused as saturated), or None."""
        ra, rb, fa, fb, ea, eb = values(sel)
        fa, fb = fa * ka, fb * kb
        bound = _SLACK * (abs(ka) * ea + abs(kb) * eb + a.rel_err * np.abs(fa) + b.rel_err * np.abs(fb)) + atol
        bound = np.broadcast_to(bound, fa.shape)
        # A copy quantized so coarsely that half a step covers the values' spread agrees with anything of
        # that size: it is no evidence of one weight. Real requantizations sit far below this (int8:
        # about 0.01-0.03 of the spread, int4 about 0.2).
        spread = float(max(np.std(fa), np.std(fb)))
        if fa.size > 1 and float(np.mean(bound)) > _LOOSEST * spread:
            return None
        d = np.abs(fa - fb)
        off = d > bound
        n_off = int(np.count_nonzero(off))
        if n_off:
            excused = off & (_saturated(ra, a_limits, fa, fb) | _saturated(rb, b_limits, fb, fa))
            if int(np.count_nonzero(excused)) != n_off:
                return None
            d = np.where(off, 0.0, d)
        return (float(d.max()) if d.size else 0.0), n_off

    if idx is not None:
        _, _, fa, fb, _, _ = values(idx)
        approx = 1e-7 * max(float(np.abs(fa).max()) * abs(ka), float(np.abs(fb).max()) * abs(kb)) + 1e-30
        sampled = check(idx, approx * 10)
        if sampled is None:
            return None
        if not full and not hidden:
            return sampled
    atol = 1e-7 * max(a.maxabs() * abs(ka), b.maxabs() * abs(kb)) + 1e-30
    if not b.raw.ndim:
        whole = check(None, atol)
        return None if whole is None or whole[1] > allowance else whole
    worst, clipped = 0.0, 0
    for sl in _row_chunks(b.raw):
        part = check(sl, atol)
        if part is None:
            return None
        worst, clipped = max(worst, part[0]), clipped + part[1]
        if clipped > allowance:
            return None
    return worst, clipped


def _relation(kept: Prepared, other: Prepared) -> Relation:
    """How `other` relates to `kept`; a copy linked only through a third copy is described by that
    chain's weakest link (requantized, difference unknown)."""
    r = relate(kept, other)
    return r if r is not None else Relation("requantized", None, float("nan"))


def _group(members: list[Member]) -> Group:
    """A group of `members` (the kept copy first), of the loosest relation among the others."""
    kinds = {m.relation for m in members[1:]}
    kind = "requantized" if "requantized" in kinds else ("transposed" if "transposed" in kinds else "exact")
    return Group(members, kind)


def _rooted(kept: Prepared, others: list[Prepared]) -> Group:
    out = [Member(kept.w, "kept")]
    for m in others:
        r = _relation(kept, m)
        out.append(Member(m.w, r.relation, r.perm, r.diff, r.saturated))
    return _group(out)


def reroot(group: Group, kept: StoredWeight) -> Group:
    """The same group with `kept` as its kept copy (first member), every other copy related to it.

    What is known carries over without touching the data: the old kept copy relates to the new one as the
    new one did to it (the inverse permutation), and a copy holding the old kept copy's values (exact or
    transposed) relates to the new one as the old one does. Only a copy requantized against both is
    compared again."""
    if group.kept is kept:
        return group
    new = next((m for m in group.members if m.weight is kept), None)
    if new is None:
        raise ValueError(f"{kept.key} is not a member of the group")
    old = group.members[0]
    back = _inverse(new.perm)
    out = [Member(kept, "kept"), Member(old.weight, new.relation, back, new.max_abs_diff, new.saturated)]
    prepared: Prepared | None = None
    for m in group.members[1:]:
        if m is new:
            continue
        perm = _compose(back, m.perm)
        if new.relation != "requantized" and m.relation != "requantized":  # exact or transposed: compose
            out.append(Member(m.weight, "exact" if perm is None else "transposed", perm))
            continue
        if new.relation != "requantized" or m.relation != "requantized":
            # One side holds the old kept copy's very values: the other side's measurement carries over.
            near = m if m.relation == "requantized" else new
            out.append(Member(m.weight, "requantized", perm, near.max_abs_diff, near.saturated))
            continue
        prepared = prepared or prepare(kept, 0)
        r = _relation(prepared, prepare(m.weight, 1))
        out.append(Member(m.weight, r.relation, r.perm, r.diff, r.saturated))
    return _group(out)


def _inverse(perm: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """q with b == transpose(a, q) when a == transpose(b, perm)."""
    return None if perm is None else tuple(int(i) for i in np.argsort(perm))


def _compose(first: tuple[int, ...] | None, then: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """transpose(transpose(x, first), then) == transpose(x, result); None is the identity."""
    if first is None or then is None:
        return then if first is None else first
    out = tuple(first[i] for i in then)
    return None if out == tuple(range(len(out))) else out


def smallest_first(group: Group) -> Group:
    """The group rooted at its smallest copy (the most precise among equals): what a repair keeps when
    every other copy can be merged into any of them, since each merge saves the merged copy's bytes."""
    weights = [m.weight for m in group.members]
    return reroot(group, min(weights, key=lambda w: (w.nbytes, weights.index(w))))


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
    cands: list[Prepared] = []
    for w in weights:
        if not is_candidate(w, min_elements):
            continue
        p = prepare(w, len(cands))
        if is_constant_valued(p.raw):
            continue
        cands.append(p)
    uf = _UnionFind(len(cands))
    total = len(cands)
    done = 0

    # 1. Exact copies: same dtype, quantization and bytes.
    by_size: dict[tuple, list[Prepared]] = {}
    for p in cands:
        by_size.setdefault((p.qkey, p.raw.nbytes), []).append(p)
    for same in by_size.values():
        if len(same) < 2:
            continue
        by_peek: dict[bytes, list[Prepared]] = {}
        for p in same:
            by_peek.setdefault(p.peek(), []).append(p)
        for peers in by_peek.values():
            if len(peers) < 2:
                continue
            by_hash: dict[bytes, list[Prepared]] = {}
            for p in peers:
                by_hash.setdefault(p.content_hash(), []).append(p)
            for hits in by_hash.values():
                for other in hits[1:]:
                    if _equal_under(hits[0].raw.reshape(-1), other.raw.reshape(-1), (0,)):
                        uf.union(hits[0].order, other.order)

    # 2. Transposed and requantized copies among the remaining classes of equal element count.
    reps = [p for p in cands if uf.find(p.order) == p.order]
    by_numel: dict[tuple[int, tuple[int, ...]], list[Prepared]] = {}
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

    clusters: dict[int, list[Prepared]] = {}
    for p in cands:
        clusters.setdefault(uf.find(p.order), []).append(p)
    groups: list[Group] = []
    for members in clusters.values():
        if len(members) < 2:
            continue
        # Relations are measured against the most precise copy (the tightest check); `reroot` then makes
        # the copy that a repair keeps the group's first member.
        kept = max(members, key=lambda p: (p.w.precision_rank, p.w.scale_known, -p.order))
        groups.append(_rooted(kept, sorted((m for m in members if m is not kept), key=lambda p: p.order)))
    groups.sort(key=lambda g: -g.wasted_bytes)
    return groups
