"""A copy stored in a Constant node, not an initializer: no rewrite reaches it, so it stays (listed first,
so that no other rule is tried)."""

from __future__ import annotations

from ...plan import Copy
from ..graph import Graph

REASON = "stored in a Constant node, not an initializer"


class ConstantNode:
    name = "constant_node"

    def applies(self, copy: Copy, graph: Graph) -> bool:
        return str(copy.kept.ref) not in graph.inits or str(copy.member.ref) not in graph.inits

    def obstacle(self, copy: Copy, graph: Graph) -> str | None:
        return REASON

    def apply(self, copy: Copy, graph: Graph) -> list[str]:
        raise ValueError(f"{copy.member.name}: {REASON}")
