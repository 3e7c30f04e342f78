"""LiteRT's CompiledModel API as a `Runner`, with XNNPACK's weight cache.

`ai_edge_litert.compiled_model.CompiledModel` is the API LiteRT recommends on phones. On the CPU it runs
XNNPACK, which packs a copy of a weight for every op that reads it; with
`CpuOptions(xnnpack_weight_cache_path=FILE)` XNNPACK packs each *buffer* once into FILE (the first load
writes it, later loads map it), so a weight that the file stores once is also held once in RAM. The path
must be a file: given a directory, LiteRT 2.3 prints ERROR lines and silently runs without a cache, so a
directory is refused here.

Inputs and outputs go by name, as in every runner; their dtypes, shapes (with dynamic dimensions) and
int8 quantization come from the file itself, since the CompiledModel API reports neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeshare._quiet import quiet_fds
from edgeshare.errors import InvalidInputError

from ..formats.source import open_source
from ..formats.tflite_file import read_tflite
from .base import Runner, TensorSpec, choose_signature
from .litert import gather_bounds

ACCELERATORS = ("cpu", "gpu", "npu")
# What TensorBuffer.write/read accept in ai-edge-litert 2.3 (int64 and int16 have no host buffer there).
BUFFER_DTYPES = ("float32", "float16", "int32", "int8", "uint8", "bool")


def check_cache_path(path: str) -> str:
    """The weight-cache path, checked: a file (existing or not) in an existing folder, never a folder."""
    if os.path.isdir(path):
        raise InvalidInputError("the XNNPACK weight cache must be a file path, not a folder (given a folder, "
                                f"LiteRT prints ERROR lines and runs without a cache). Received: weight_cache={path}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InvalidInputError(f"the folder of the XNNPACK weight cache does not exist. Received: weight_cache={path}")
    return path


def default_environment() -> Any:
    """The LiteRT environment CompiledModel.from_file creates when given none (accelerators registered)."""
    from ai_edge_litert import compiled_model
    from ai_edge_litert.compiled_model import Environment, EnvironmentOptions

    with quiet_fds():
        return Environment.create(options=EnvironmentOptions(runtime_path=os.path.dirname(
            os.path.abspath(compiled_model.__file__))))


def _why(exc: BaseException) -> str:
    """LiteRT's status text on one line: the wrapper's message is its source location, then the reason."""
    lines = [ln.strip().lstrip("└").strip() for ln in str(exc).splitlines() if ln.strip()]
    reasons = [ln for ln in lines if not ln.startswith("CompiledModel error:")]
    return "; ".join(reasons or lines) or type(exc).__name__


def _shape_signatures(data: Any, subgraph: int, tensors: list[int]) -> dict[int, tuple[int, ...]]:
    """tensor index -> shape_signature (-1 for a dynamic dimension); the formats reader keeps only shapes."""
    from ai_edge_litert import schema_py_generated as s

    sg = s.Model.GetRootAs(data, 0).Subgraphs(subgraph)
    out = {}
    for i in tensors:
        t = sg.Tensors(i)
        if t.ShapeSignatureLength():
            out[i] = tuple(int(d) for d in t.ShapeSignatureAsNumpy())
    return out


class CompiledModelRunner(Runner):
    """One signature of a .tflite model on LiteRT's CompiledModel API.

    Args:
        model: a path or the file's bytes.
        signature: the signature key; default: the only one, "all" in a multi-task file, else the first.
        num_threads: CPU threads (default: LiteRT's choice).
        weight_cache: a FILE for XNNPACK's weight cache (None: no cache, a packed copy per op).
        accelerator: "cpu" (XNNPACK), "gpu" or "npu" (each with the CPU as fallback).
        builtin_kernels: run the CPU part on LiteRT's built-in kernels instead of XNNPACK (no packing,
            so no weight cache).
        environment: a LiteRT Environment to share (default: a new one, as CompiledModel.from_file makes).
    """

    runtime = "litert-compiled"

    def __init__(self, model: str | os.PathLike[str] | bytes, signature: str | None = None,
                 num_threads: int | None = None, weight_cache: str | None = None, accelerator: str = "cpu",
                 builtin_kernels: bool = False, environment: Any = None) -> None:
        from ai_edge_litert.compiled_model import CompiledModel, CpuKernelMode, CpuOptions, HardwareAccelerator, Options

        if accelerator not in ACCELERATORS:
            raise InvalidInputError(f"the CompiledModel runner offers accelerators {', '.join(ACCELERATORS)}. "
                                    f"Received: accelerator={accelerator}")
        content = bytes(model) if isinstance(model, (bytes, bytearray)) else None
        self.label = "<bytes>" if content is not None else str(os.fspath(model))
        self.weight_cache = check_cache_path(weight_cache) if weight_cache else None
        self.accelerator = accelerator
        specs = self._file_specs(content if content is not None else self.label, signature)
        hw = HardwareAccelerator.CPU
        if accelerator == "gpu":
            hw = HardwareAccelerator.GPU | HardwareAccelerator.CPU
        elif accelerator == "npu":
            hw = HardwareAccelerator.NPU | HardwareAccelerator.CPU
        if builtin_kernels and self.weight_cache:
            raise InvalidInputError("LiteRT's built-in kernels pack no weights, so they take no XNNPACK weight "
                                    f"cache. Received: weight_cache={self.weight_cache}", self.label)
        options = Options(hardware_accelerators=hw, cpu_options=CpuOptions(
            num_threads=num_threads or 0, xnnpack_weight_cache_path=self.weight_cache or "",
            kernel_mode=CpuKernelMode.BUILTIN if builtin_kernels else None))
        env = environment if environment is not None else default_environment()
        try:
            # LiteRT logs its set-up on stderr; keep that off the CLI's output.
            with quiet_fds():
                if content is not None:
                    self.model = CompiledModel.from_buffer(content, environment=env, options=options)
                else:
                    self.model = CompiledModel.from_file(self.label, environment=env, options=options)
        except Exception as exc:  # the wrapper raises RuntimeError or ValueError with LiteRT's status text
            raise InvalidInputError(f"LiteRT's CompiledModel cannot load the model: {_why(exc)} (the Interpreter "
                                    "may: edgeshare bench --weight-cache off)", self.label) from exc
        keys = list(self.model.get_signature_list())
        # A file without signatures gets LiteRT's placeholder signature at index 0.
        self._key = self.signature if self.signature is not None else keys[0]
        self._sig = self.model.get_signature_index(self._key)
        self.inputs, self.outputs = specs
        listed = self.model.get_signature_list()[self._key]
        sig_inputs, sig_outputs = list(listed["inputs"]), list(listed["outputs"])
        if sorted(sig_inputs) != sorted(self.input_names) or sorted(sig_outputs) != sorted(self.output_names):
            raise InvalidInputError(
                f"LiteRT's CompiledModel names the tensors {sig_inputs} -> {sig_outputs}, the file "
                f"{self.input_names} -> {self.output_names}. Received: signature={self._key}", self.label)
        # Buffers come in the CompiledModel's signature order; values cross by name.
        self._in_pos = {n: sig_inputs.index(n) for n in self.input_names}
        self._out_pos = [sig_outputs.index(n) for n in self.output_names]
        for spec in [*self.inputs, *self.outputs]:
            if spec.dtype not in BUFFER_DTYPES:
                raise InvalidInputError(
                    f"tensor {spec.name!r} is {spec.dtype}, which LiteRT's CompiledModel Python API cannot hold "
                    f"(it takes {', '.join(BUFFER_DTYPES)}); run it with the Interpreter (--runtime interpreter). "
                    f"Received: dtype={spec.dtype}", self.label)
        self._shapes = {s.name: tuple(max(d, 1) for d in s.shape) for s in self.inputs}
        try:
            with quiet_fds():
                self._allocate()
        except RuntimeError as exc:  # tensors that cannot be allocated: the model does not prepare
            raise InvalidInputError(f"LiteRT's CompiledModel cannot prepare the model: {_why(exc)}",
                                    self.label) from exc

    def _file_specs(self, source: str | bytes, signature: str | None) -> tuple[list[TensorSpec], list[TensorSpec]]:
        """Inputs and outputs of the chosen signature, read from the file; sets `self.signature`."""
        with open_source(source) as src:
            tfl = read_tflite(src)
            sigs = {s.key: s for s in tfl.signatures}
            key = choose_signature(sigs, signature, self.label)
            self.signature = key
            if key is not None:
                sub = sigs[key].subgraph
                ins, outs = dict(sigs[key].inputs), dict(sigs[key].outputs)
            else:
                sub = 0
                sg = tfl.subgraphs[0]
                ins = {sg.tensors[i].name: i for i in sg.inputs}
                outs = {sg.tensors[i].name: i for i in sg.outputs}
            tensors = tfl.subgraphs[sub].tensors
            dynamic = _shape_signatures(src.data, sub, [*ins.values(), *outs.values()])
            bounds = gather_bounds(source)

            def spec(name: str, index: int, bound: int | None) -> TensorSpec:
                t = tensors[index]
                shape = dynamic.get(index, t.shape)
                q = t.quant
                if q is None or q.scale.size != 1:  # int8 I/O carries one scale; anything else is raw values
                    return TensorSpec(name, tuple(shape), t.dtype, 0.0, 0, bound)
                zero = int(q.zero_point.reshape(-1)[0]) if q.zero_point.size else 0
                return TensorSpec(name, tuple(shape), t.dtype, float(q.scale.reshape(-1)[0]), zero, bound)

            return ([spec(n, i, bounds.get((sub, i))) for n, i in ins.items()],
                    [spec(n, i, None) for n, i in outs.items()])

    def _allocate(self) -> None:
        self._in_buffers = self.model.create_input_buffers(self._sig)
        self._out_buffers = self.model.create_output_buffers(self._sig)
        details = self.model.get_output_tensor_details(self._key)
        self._out_shapes = [tuple(int(d) for d in details[s.name]["shape"]) for s in self.outputs]
        self._out_ordered = [self._out_buffers[i] for i in self._out_pos]
        sig, ins, outs = self._sig, self._in_buffers, self._out_buffers
        in_caps, out_caps = [b.capsule for b in ins], [b.capsule for b in outs]
        run = getattr(getattr(self.model, "_model", None), "RunByIndex", None)
        model = self.model
        # The bare call a timing loop repeats (the public run_by_index rebuilds the capsule lists each time).
        # The closures hold no reference to self, so that dropping the runner frees LiteRT at once (see close).
        self._run = (lambda: run(sig, in_caps, out_caps)) if run is not None else (
            lambda: model.run_by_index(sig, ins, outs))

    def close(self) -> None:
        """Release the compiled model and its buffers now (LiteRT logs its teardown; kept off the output)."""
        held = [self.__dict__.pop(k, None) for k in ("_run", "_in_buffers", "_out_buffers", "_out_ordered", "model")]
        if any(h is not None for h in held):
            try:
                with quiet_fds():
                    held.clear()
            except (OSError, ValueError, TypeError):  # interpreter shutdown: nothing left to keep quiet
                held.clear()

    def __del__(self) -> None:
        self.close()

    def set_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        resized = False
        for name, x in feeds.items():
            if tuple(x.shape) != self._shapes[name]:
                self.model.resize_input_tensor(self._in_pos[name], list(x.shape), self._sig)
                self._shapes[name] = tuple(x.shape)
                resized = True
        if resized:
            self._allocate()
        for name, x in feeds.items():
            self._in_buffers[self._in_pos[name]].write(np.ascontiguousarray(x))

    def invoke(self) -> None:
        self._run()

    def raw_outputs(self) -> list[np.ndarray]:
        out = []
        for spec, shape, buf in zip(self.outputs, self._out_shapes, self._out_ordered):
            n = int(np.prod(shape)) if shape else 1
            out.append(buf.read(n, np.dtype(spec.dtype)).reshape(shape))
        return out
