"""Repair an .onnx so that every shared weight is stored once: the pass that applies the rules.

For each duplicate group, the copy to keep is the one every other copy can be merged into with the fewest
run-time Transposes (a Gather needs the table's own layout; MatMul and Gemm can read either), then the
smallest; each other copy is merged by the first rule that applies (rules/), or left with the reason.
Initializers stored as external data are streamed into the output's own data file.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...formats.onnx_file import OnnxFile, read_onnx
from ...formats.source import Source, open_source
from ...formats.weights import StoredWeight
from ...verify.matching import Group, find_groups
from ..plan import Allow, MergedCopy, Outcome, Plan, SkippedCopy, allow_all, choose_kept
from .graph import Graph
from .rules import COPY_RULES


def _rank(g: Graph, members: list[StoredWeight]) -> Any:
    def rank(k: StoredWeight, outcome: Outcome) -> tuple[Any, ...]:
        bad = sum(1 for _, _, why in outcome if why is not None)
        transposes = sum(getattr(rule, "cost", lambda *_: 0)(c, g) for c, rule, why in outcome if why is None)
        return (bad, transposes, k.nbytes, members.index(k))

    return rank


def _visibility(m: Graph, c: Any) -> str | None:
    """Why the kept initializer cannot be made visible to the copy's readers, or None."""
    k, w = str(c.kept.ref), str(c.member.ref)
    if k not in m.inits or w not in m.inits:
        return None  # Constant nodes: their rule keeps them
    return m.make_visible(k, w)


def plan_and_rewrite(f: OnnxFile, groups: list[Group], allow: Allow = allow_all) -> tuple[Graph, Plan]:
    """Apply the rules to every group (editing `f.model` in place); `allow(rule, group)` may hold a rule
    back in a group."""
    m = Graph(f)
    plan = Plan()
    for gi, group in enumerate(groups):
        members = [x.weight for x in group.members]
        chosen = choose_kept(group, gi, COPY_RULES, m, _rank(m, members), allow=allow)
        if chosen is None:
            continue
        kept, outcome = chosen
        plan.kept[gi] = kept.key
        for c, rule, why in outcome:
            if why is not None or rule is None:
                plan.skipped.append(SkippedCopy(gi, c.member.name, c.member.nbytes, why or "no rule"))
            elif (hidden := _visibility(m, c)) is not None:
                plan.skipped.append(SkippedCopy(gi, c.member.name, c.member.nbytes, hidden))
            else:
                plan.merged.append(MergedCopy(gi, c.relation, kept.name, c.member.name, c.member.nbytes,
                                              rule.apply(c, m), rule.name, kept.key, c.member.key))
    return m, plan


def rewrite_onnx(source: Source, out: str, *, min_elements: int = 16, groups: list[Group] | None = None,
                 parsed: OnnxFile | None = None, allow: Allow = allow_all) -> Plan:
    """Merge duplicate weights of an .onnx into `out`. `groups` and `parsed` may come from an earlier
    `verify` of the same source (a parsed file handed in stays open, and its model is edited in place)."""
    src = parsed.source if parsed is not None else open_source(source)
    try:
        f = parsed if parsed is not None else read_onnx(src)
        if groups is None:
            groups = find_groups(f.stored_weights(), min_elements=min_elements)
        m, plan = plan_and_rewrite(f, groups, allow)
        write(m, f, out)
        return plan
    finally:
        if parsed is None:
            src.close()


def write(m: Graph, f: OnnxFile, out: str) -> None:
    """Save, streaming external data into `out`'s own data file."""
    import onnx
    from onnx import external_data_helper as edh

    external = [t for _, t in m.inits.values() if edh.uses_external_data(t)]
    if not external:
        onnx.save(m.model, out)
        return
    data_name = os.path.basename(out) + ".data"
    data_path = os.path.join(os.path.dirname(os.path.abspath(out)), data_name)
    with open(data_path, "wb") as fh:
        for t in external:
            arr = f.tensor_array(t)
            pos = fh.tell()
            pad = (-pos) % 4096
            fh.write(b"\0" * pad)
            pos += pad
            view = np.ascontiguousarray(arr).view(np.uint8).reshape(-1).data
            for i in range(0, view.nbytes, 1 << 24):
                fh.write(view[i : i + (1 << 24)])
            # set_external_data() insists on raw_data being present; write the entries directly.
            del t.external_data[:]
            for key, value in (("location", data_name), ("offset", str(pos)), ("length", str(view.nbytes))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            t.data_location = onnx.TensorProto.EXTERNAL
    onnx.save(m.model, out)
