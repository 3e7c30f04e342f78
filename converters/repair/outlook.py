"""What a full repair reaches, without writing anything: the repair's own planner run in memory.

`edgeshare.converters.verify` hands `outlook` to the verifier, so that the floor it reports keeps, in each
group, the very copy a repair keeps, and so that the report says what a repair writes (the weight bytes of
its output) and which copies it would leave, with the reason.
"""

from __future__ import annotations

from ..formats.onnx_file import OnnxFile
from ..formats.tflite_file import TFLiteFile
from ..verify.matching import Group
from ..verify.report import LeftCopy, RepairOutlook
from ..verify.verifier import ParsedFile, is_weight
from .onnx import rewrite as onnx_rewrite
from .tflite import rewrite as tflite_rewrite


def outlook(groups: list[Group], parsed: ParsedFile) -> RepairOutlook:
    """Plan the repair of `parsed` (its groups as `verify` found them) on an in-memory copy of the model."""
    if isinstance(parsed, TFLiteFile):
        g, plan = tflite_rewrite.plan_and_rewrite(parsed, groups)  # edits its own object-API copy
        reaches = tflite_rewrite.weight_bytes(g, tflite_rewrite.compact(g))
    else:
        import onnx

        model = onnx.ModelProto()
        model.CopyFrom(parsed.model)  # the rules edit the model in place; the repair needs the original
        work = OnnxFile(parsed.source, model, parsed.base_dir)
        try:
            m, plan = onnx_rewrite.plan_and_rewrite(work, groups)
            after = OnnxFile(parsed.source, m.model, parsed.base_dir)
            reaches = sum(w.nbytes for w in after.stored_weights() if is_weight(w))
            after.close()
        finally:
            work.close()
    left = [LeftCopy(s.group, s.tensor, s.bytes, s.reason) for s in plan.skipped]
    return RepairOutlook(dict(plan.kept), reaches, left)
