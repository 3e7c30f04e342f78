"""Repair a .tflite so that every shared weight is stored once: the pass that applies the rules.

For each duplicate group `verify` found, a group rule may claim the whole group (rules/shared_int8_bias).
Otherwise the copy to keep is the one the most bytes can be merged into, and each other copy is merged by
the first copy rule that applies to it (rules/), or left in place with the reason. Then tensors nothing
reads and buffers no tensor uses are dropped, and the model is written (formats/tflite_writer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeshare.errors import InvalidInputError

from ...formats.source import Source, open_source
from ...formats.tflite_file import FLOAT_DTYPES, NUMERIC_DTYPES, TFLiteFile, dtype_name, read_tflite
from ...formats.tflite_writer import write_tflite
from ...formats.weights import StoredWeight
from ...verify.matching import Group, find_groups
from ..plan import HELD_BACK, Allow, KeptChange, MergedCopy, Outcome, Plan, SkippedCopy, allow_all, choose_kept
from .graph import Graph, ints, qaxis, scales
from .rules import COPY_RULES, GROUP_RULES, KEPT_RULES


def _rank(g: Graph, group: Group, members: list[StoredWeight]) -> Callable[[StoredWeight, Outcome], tuple[Any, ...]]:
    """Keep the copy into which the most bytes merge, then the smallest, then one that need not be
    re-stored (a kept rule requantizes it), then the fewest added ops (a rule's `cost`), then a
    per-channel one."""

    def rank(k: StoredWeight, outcome: Outcome) -> tuple[Any, ...]:
        saved = sum(c.member.nbytes for c, _, why in outcome if why is None)
        restored = any(kr.applies(k, group, g) for kr in KEPT_RULES)
        cost = sum(getattr(rule, "cost", 0) for _, rule, why in outcome if why is None)
        return (-saved, k.nbytes, restored, cost, qaxis(g.first_tensor(k)) is None, members.index(k))

    return rank


def plan_and_rewrite(tfl: TFLiteFile, groups: list[Group], allow: Allow = allow_all) -> tuple[Graph, Plan]:
    """Apply the rules to every group; `allow(rule, group)` may hold a rule back in a group (the driver
    does so for merges that moved the outputs too much)."""
    g = Graph(tfl)
    plan = Plan()
    # Weights first, int32 biases last: a bias group can merge only once its ops share one weight.
    order = sorted(range(len(groups)), key=lambda i: groups[i].kept.dtype == "int32")
    for gi in order:
        group = groups[gi]
        members = [m.weight for m in group.members]
        claimed = next((r for r in GROUP_RULES if r.applies(group, g)), None)
        if claimed is not None:
            plan.kept[gi] = members[0].key
            if not allow(claimed.name, gi):
                notes: list[str] = []
                why: str | None = HELD_BACK
            else:
                notes, why = claimed.apply(group, g)
            if why is not None:
                plan.skipped += [SkippedCopy(gi, w.name, w.nbytes, why) for w in members[1:]]
            else:
                plan.merged += [MergedCopy(gi, "requantized", members[0].name, w.name, w.nbytes, notes, claimed.name,
                                           members[0].key, w.key) for w in members[1:]]
            continue
        chosen = choose_kept(group, gi, COPY_RULES, g, _rank(g, group, members),
                             eligible=lambda w: g.first_tensor(w) is not None, unrelated="requantized", allow=allow)
        if chosen is None:
            continue
        kept, outcome = chosen
        plan.kept[gi] = kept.key
        todo = [(c, rule) for c, rule, why in outcome if why is None and rule is not None]
        if todo:
            for kr in KEPT_RULES:
                if kr.applies(kept, group, g):
                    plan.kept_changes += [KeptChange(gi, kept.name, kept.key, note, kr.name)
                                          for note in kr.apply(kept, group, g)]
        for c, rule, why in outcome:
            if why is not None or rule is None:
                plan.skipped.append(SkippedCopy(gi, c.member.name, c.member.nbytes, why or "no rule"))
            else:
                plan.merged.append(MergedCopy(gi, c.relation, kept.name, c.member.name, c.member.nbytes,
                                              rule.apply(c, g), rule.name, kept.key, c.member.key))
    return g, plan


def compact(g: Graph) -> dict[int, int]:
    """Drop tensors nothing reads or writes and buffers no tensor uses; returns old->new buffer ids."""
    m = g.model
    for sg in m.subgraphs:
        used = set(sg.inputs or []) | set(sg.outputs or [])
        for op in sg.operators or []:
            used |= {x for x in (op.inputs or []) if x >= 0}
            used |= {x for x in (op.outputs or []) if x >= 0}
            used |= {x for x in (op.intermediates or []) if x >= 0}
        si = m.subgraphs.index(sg)
        for sd in m.signatureDefs or []:
            if sd.subgraphIndex == si:
                used |= {tm.tensorIndex for tm in (sd.inputs or []) + (sd.outputs or [])}
        keep = sorted(used)
        remap = {old: new for new, old in enumerate(keep)}
        sg.tensors = [sg.tensors[i] for i in keep]
        sg.inputs = [remap[x] for x in (sg.inputs or [])]
        sg.outputs = [remap[x] for x in (sg.outputs or [])]
        for op in sg.operators or []:
            op.inputs = [remap[x] if x >= 0 else x for x in (op.inputs or [])]
            op.outputs = [remap[x] if x >= 0 else x for x in (op.outputs or [])]
            if op.intermediates is not None:
                op.intermediates = [remap[x] if x >= 0 else x for x in op.intermediates]
        for sd in m.signatureDefs or []:
            if sd.subgraphIndex == si:
                for tm in (sd.inputs or []) + (sd.outputs or []):
                    tm.tensorIndex = remap[tm.tensorIndex]
    used_b = {0} | {t.buffer for sg in m.subgraphs for t in (sg.tensors or [])}
    used_b |= {md.buffer for md in (m.metadata or [])}
    used_b |= set(ints(m.metadataBuffer))
    keep_b = sorted(b for b in used_b if b < len(m.buffers))
    bmap = {old: new for new, old in enumerate(keep_b)}
    for sg in m.subgraphs:
        for t in sg.tensors or []:
            t.buffer = bmap[t.buffer]
    for md in m.metadata or []:
        md.buffer = bmap[md.buffer]
    if m.metadataBuffer is not None:
        m.metadataBuffer = [bmap[b] for b in ints(m.metadataBuffer)]
    m.buffers = [m.buffers[b] for b in keep_b]
    return bmap


def weight_bytes(g: Graph, bmap: dict[int, int]) -> int:
    """The weight bytes `verify` would count in the model `g` holds after `compact` (which returned
    `bmap`): every buffer with data whose first viewing tensor is a float or quantized constant."""
    inverse = {new: old for old, new in bmap.items()}
    seen: set[int] = set()
    total = 0
    for sg in g.model.subgraphs:
        for t in sg.tensors or []:
            b = int(t.buffer)
            if b <= 0 or b in seen or t.isVariable or t.externalBuffer:
                continue
            dtype = dtype_name(g.type_name(t) or "")
            data = g.data_of(inverse.get(b, b)) if dtype in NUMERIC_DTYPES else None
            n = 0 if data is None else memoryview(data).nbytes
            if not n:
                continue
            seen.add(b)
            if dtype in FLOAT_DTYPES or scales(t) is not None:
                total += n
    return total


def rewrite_tflite(
    source: Source, out: str | None = None, *, layout: str = "auto", min_elements: int = 16,
    groups: list[Group] | None = None, parsed: TFLiteFile | None = None, allow: Allow = allow_all,
) -> tuple[bytes | None, Plan]:
    """Merge duplicate weights of a .tflite. Returns (bytes or None when written to `out`, the plan).

    `groups` and `parsed` may come from an earlier `verify` of the same source, so that the file is
    matched and mapped once; a parsed file handed in stays open (its owner may rewrite it again)."""
    src = parsed.source if parsed is not None else open_source(source)
    try:
        tfl = parsed if parsed is not None else read_tflite(src)
        if groups is None:
            groups = find_groups(tfl.stored_weights(), min_elements=min_elements)
        g, plan = plan_and_rewrite(tfl, groups, allow)
        bmap = compact(g)
        inverse = {new: old for old, new in bmap.items()}
        try:
            data = write_tflite(g.model, lambda i: g.data_of(inverse[i]), out, layout=layout)
        except Exception as exc:
            raise InvalidInputError(f"cannot write the repaired model: {exc}", src.label) from exc
        return data, plan
    finally:
        if parsed is None:
            src.close()
