"""What a repair pass decides, for either format: the rule interfaces and the plan they produce.

A repair pass walks the duplicate groups that `verify` found. A **group rule** may claim a whole group
(the int32 biases of a shared int8 layer). Otherwise one copy of the group is kept and every other copy
is a `Copy` that the first **copy rule** that `applies` to it merges, unless its `obstacle` says why it
cannot; a copy no rule applies to stays in the file, with the reason. A new rule is one module in
`repair/<format>/rules/` plus one line in that package's registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..formats.weights import StoredWeight
from ..verify.matching import Group, prepare, relate

G = TypeVar("G", contravariant=True)


@dataclass
class Copy:
    """One copy of a weight to merge into the group's kept copy. `perm` is set for transposed copies:
    the member equals the kept copy transposed by it (axes of the squeezed layouts)."""

    group: int
    kept: StoredWeight
    member: StoredWeight
    relation: str  # "exact", "transposed" or "requantized"
    perm: tuple[int, ...] | None = None


class CopyRule(Protocol, Generic[G]):
    """Merges one kind of copy into the kept copy, in a graph of type G."""

    name: str

    def applies(self, copy: Copy, graph: G) -> bool:
        """Whether this rule is the one for this kind of copy (relation, dtypes, readers)."""
        ...

    def obstacle(self, copy: Copy, graph: G) -> str | None:
        """Why the rule cannot rewrite this copy's readers, or None when it can."""
        ...

    def apply(self, copy: Copy, graph: G) -> list[str]:
        """Rewrite the copy's readers to read the kept copy; returns one note per rewrite."""
        ...


@dataclass
class MergedCopy:
    group: int
    kind: str
    kept: str
    merged: str
    bytes_saved: int
    rewrites: list[str]
    rule: str = ""
    kept_storage: str = ""  # storage keys ("buffer 12", "initializer 'W'"): names alone may coincide
    merged_storage: str = ""


@dataclass
class KeptChange:
    """A change to a group's kept copy itself (made before the other copies merge into it)."""

    group: int
    tensor: str
    storage: str
    note: str
    rule: str = ""


@dataclass
class SkippedCopy:
    group: int
    tensor: str
    bytes: int
    reason: str


@dataclass
class Plan:
    """What a repair pass merged and what it left, with the reason."""

    merged: list[MergedCopy] = field(default_factory=list)
    skipped: list[SkippedCopy] = field(default_factory=list)
    kept: dict[int, str] = field(default_factory=dict)  # group -> storage key of the copy kept
    kept_changes: list[KeptChange] = field(default_factory=list)

    @property
    def requantized(self) -> bool:
        return any(m.kind == "requantized" for m in self.merged)

    def groups_by(self, rule: str) -> set[int]:
        """The groups that `rule` merged."""
        return {m.group for m in self.merged if m.rule == rule}

    @property
    def merged_groups(self) -> list[int]:
        return sorted({m.group for m in self.merged})


# The reason given for the copies of a group that the driver holds back (see `Allow`).
HELD_BACK = "not merged: merging it moved the outputs beyond the repair's tolerance"

Allow = Callable[[str, int], bool]  # (rule name, group index) -> whether the rule may merge in that group


def allow_all(rule: str, group: int) -> bool:
    return True


def no_rule(copy: Copy) -> str:
    if copy.relation == "chained":
        return "related to the kept copy only through a third copy"
    m, k = copy.member, copy.kept
    return f"no repair rule merges a {copy.relation} {m.dtype} copy into a {k.dtype} kept copy"


def first_rule(rules: list[CopyRule[G]], copy: Copy, graph: G,
               allow: Allow = allow_all) -> tuple[CopyRule[G] | None, str | None]:
    """The rule for `copy` and its obstacle (None: it can merge the copy). A rule `allow` holds back in the
    copy's group is passed over for the next one that applies (an alternative rewrite of the same copy);
    when none is left, the copy is held back."""
    held = False
    for rule in rules:
        if rule.applies(copy, graph):
            if not allow(rule.name, copy.group):
                held = True
                continue
            return rule, rule.obstacle(copy, graph)
    return None, HELD_BACK if held else no_rule(copy)


Outcome = list[tuple[Copy, Any, "str | None"]]  # (copy, its rule or None, the obstacle or None)


def choose_kept(
    group: Group, gi: int, rules: list[Any], graph: Any, rank: Callable[[StoredWeight, Outcome], tuple[Any, ...]],
    eligible: Callable[[StoredWeight], bool] = lambda _w: True, unrelated: str = "chained",
    allow: Allow = allow_all,
) -> tuple[StoredWeight, Outcome] | None:
    """The copy to keep: for each eligible candidate, the rule and obstacle of every other copy; the
    candidate with the smallest `rank(candidate, outcome)` wins. `unrelated` is the relation given to a
    copy linked to the candidate only through a third copy."""
    members = [m.weight for m in group.members]
    prepared = {id(w): prepare(w, i) for i, w in enumerate(members)}
    best: tuple[tuple[Any, ...], StoredWeight, Outcome] | None = None
    for k in members:
        if not eligible(k):
            continue
        outcome: Outcome = []
        for w in members:
            if w is k:
                continue
            r = relate(prepared[id(k)], prepared[id(w)], full=False)
            c = Copy(gi, k, w, r.relation if r else unrelated, r.perm if r else None)
            outcome.append((c, *first_rule(rules, c, graph, allow)))
        key = rank(k, outcome)
        if best is None or key < best[0]:
            best = (key, k, outcome)
    return None if best is None else (best[1], best[2])


__all__ = ["HELD_BACK", "Allow", "Copy", "CopyRule", "Group", "KeptChange", "MergedCopy", "Plan", "SkippedCopy",
           "allow_all", "choose_kept", "first_rule", "no_rule"]
