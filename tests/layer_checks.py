"""The one shared layer test (DESIGN.md, convention 6). Every edgeshare layer test calls
`run_layer_test`, which checks, in order:

1. the config round trip: `from_config(get_config())` gives the same config, and so does a trip through
   `serialize_keras_object`, JSON text and `deserialize_keras_object` (which covers layer-instance
   arguments stored in the config);
2. a symbolic call (KerasTensor) and an eager call, against `compute_output_shape`;
3. sharing, three ways (convention 4): the trainable-weight count, `count_params()` against a formula
   the test writes out, and `check_sharing(layer)` asserting identity with `is`;
4. a `.keras` save and reload: same outputs, same counts, and `check_sharing` again on the reloaded
   layer, so that sharing survives serialization;
5. one training step: finite loss, and every trainable variable receives a gradient and changes;
6. mixed precision, after keras-hub's `run_precision_test`: for each policy in `precision_policies`, the
   layer built with that policy gives outputs (eager and symbolic) in its compute dtype, its float weights
   are in its variable dtype, and every sublayer (made by the layer or passed to it) has both dtypes of the
   policy. So `make_layer` takes a `dtype` keyword (default None) and passes it to every layer it makes,
   a shared sublayer included;
7. the Example section of the layer class's docstring, run as a doctest (once per class and session).
"""

from __future__ import annotations

import doctest
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# keras-hub's run_precision_test policies. A layer test narrows them only for a reason it states.
PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16", "bfloat16")
_DOCTESTED: set[type] = set()


def _as_list(x: Any) -> list[Any]:
    if isinstance(x, dict):  # a dict of named outputs (e.g. MultiTaskModel), in insertion order
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _shape_of(s: Any) -> tuple:
    return tuple(s.shape) if hasattr(s, "shape") else tuple(s)


def run_layer_test(
    make_layer: Callable[[], Any],
    inputs: Any,
    *,
    expected_num_trainable_weights: int,
    expected_params: int,
    check_sharing: Callable[[Any], None] | None = None,
    call_kwargs: dict[str, Any] | None = None,
    tmp_path: Any,
    atol: float = 1e-6,
    train: bool = True,
    input_dtypes: Sequence[str] | None = None,
    unpack_inputs: bool = False,
    precision_policies: Sequence[str] = PRECISION_POLICIES,
) -> Any:
    """Run the shared checks on a fresh layer from `make_layer()` with `inputs` (array or list).

    A list of inputs is passed as one argument (`layer([a, b])`), or with `unpack_inputs=True` as positional
    arguments (`layer(a, b)`, e.g. an attention layer's query and value); `compute_output_shape` gets the
    shapes the same way, plus those `call_kwargs` its signature names (e.g. `reverse`).

    Returns the built layer, so the test can add its own numerics checks.
    """
    import keras

    call_kwargs = call_kwargs or {}
    arrays = [np.asarray(x) for x in _as_list(inputs)]
    multi = isinstance(inputs, (list, tuple))
    dtypes = list(input_dtypes) if input_dtypes else [str(a.dtype) for a in arrays]

    # 1. config round trip
    layer = make_layer()
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config, "from_config(get_config()) changed the config"
    serialized = keras.saving.serialize_keras_object(layer)
    rebuilt = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert type(rebuilt) is type(layer), f"deserialized a {type(rebuilt).__name__}, not a {type(layer).__name__}"
    assert keras.saving.serialize_keras_object(rebuilt) == serialized, "the JSON serialization round trip changed it"

    def apply(target: Any, xs: list[Any]) -> Any:
        if multi and unpack_inputs:
            return target(*xs, **call_kwargs)
        return target(xs if multi else xs[0], **call_kwargs)

    # 2. symbolic, then eager
    sym_in = [keras.Input(a.shape[1:], batch_size=None, dtype=d) for a, d in zip(arrays, dtypes)]
    sym_out = apply(layer, sym_in)
    eager_out = apply(layer, arrays)
    for s, e in zip(_as_list(sym_out), _as_list(eager_out)):
        assert _shape_of(s)[1:] == tuple(e.shape)[1:], f"symbolic {_shape_of(s)} vs eager {tuple(e.shape)}"
    shape_params = inspect.signature(layer.compute_output_shape).parameters
    shape_kwargs = {k: v for k, v in call_kwargs.items() if k in shape_params}
    shapes = [tuple(a.shape) for a in arrays]
    if multi and unpack_inputs:
        expected_shape = layer.compute_output_shape(*shapes, **shape_kwargs)
    else:
        expected_shape = layer.compute_output_shape(shapes if multi else shapes[0], **shape_kwargs)
    got = [tuple(e.shape) for e in _as_list(eager_out)]
    if isinstance(expected_shape, dict):
        assert list(expected_shape) == list(eager_out), "compute_output_shape and the call name different outputs"
        expected_shape = list(expected_shape.values())
    want = [tuple(s) for s in (expected_shape if isinstance(expected_shape, list) else [expected_shape])]
    assert got == want, f"compute_output_shape says {want}, the call gave {got}"

    # 3. sharing: counts and identity
    assert len(layer.trainable_weights) == expected_num_trainable_weights, (
        f"{len(layer.trainable_weights)} trainable weights, expected {expected_num_trainable_weights}: "
        + ", ".join(v.path for v in layer.trainable_weights)
    )
    assert layer.count_params() == expected_params, f"count_params() {layer.count_params()} != {expected_params}"
    if check_sharing is not None:
        check_sharing(layer)

    # 4. .keras save and reload inside a functional model
    model = keras.Model(sym_in if multi else sym_in[0], apply(layer, sym_in))
    before = [np.asarray(y) for y in _as_list(model(arrays if multi else arrays[0]))]
    path = str(tmp_path / f"{layer.name}.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    after = [np.asarray(y) for y in _as_list(reloaded(arrays if multi else arrays[0]))]
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, atol=atol, rtol=0, err_msg="outputs changed across .keras reload")
    re_layer = reloaded.get_layer(layer.name)
    assert len(re_layer.trainable_weights) == expected_num_trainable_weights, "weight count changed on reload"
    assert re_layer.count_params() == expected_params, "count_params() changed on reload"
    if check_sharing is not None:
        check_sharing(re_layer)

    # 5. one training step
    if train:
        raw = model(arrays if multi else arrays[0])
        outputs = _as_list(raw)
        rng = np.random.default_rng(1)
        targets: Any = [rng.standard_normal(np.asarray(o).shape).astype("float32") for o in outputs]
        losses: Any = ["mse"] * len(targets)
        if isinstance(raw, dict):  # named outputs take targets and losses by name
            targets, losses = dict(zip(raw, targets)), {k: "mse" for k in raw}
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=losses)
        start = [np.array(v.numpy()) for v in layer.trainable_weights]
        y = targets if isinstance(targets, dict) or len(targets) > 1 else targets[0]
        hist = model.fit(arrays if multi else arrays[0], y, batch_size=len(arrays[0]), epochs=1, verbose=0)
        loss = hist.history["loss"][-1]
        assert np.isfinite(loss), f"training loss is {loss}"
        unchanged = [v.path for v, s in zip(layer.trainable_weights, start) if np.array_equal(v.numpy(), s)]
        assert not unchanged, f"no update reached these variables in one step: {unchanged}"

    # 6. mixed precision
    for policy in precision_policies:
        check_precision(make_layer, policy, arrays, sym_in, apply)

    # 7. the docstring example
    run_docstring_example(type(layer))
    return layer


def _is_float(dtype: Any) -> bool:
    import keras

    return "float" in keras.backend.standardize_dtype(dtype)


def check_precision(
    make_layer: Callable[..., Any],
    policy_name: str,
    arrays: list[np.ndarray],
    sym_in: list[Any],
    apply: Callable[[Any, list[Any]], Any],
) -> None:
    """Step 6 of `run_layer_test` for one dtype policy (keras-hub's `run_precision_test`)."""
    import keras

    policy = keras.DTypePolicy(policy_name)
    assert "dtype" in inspect.signature(make_layer).parameters, (
        "`make_layer` must take a `dtype` keyword and pass it to every layer it makes"
    )
    layer = make_layer(dtype=policy_name)
    outputs = _as_list(apply(layer, arrays))
    specs = _as_list(apply(layer, sym_in))
    for kind, values in (("eager", outputs), ("symbolic", specs)):
        for value in values:
            if _is_float(value.dtype):
                got = keras.backend.standardize_dtype(value.dtype)
                assert got == policy.compute_dtype, f"{policy_name}: {kind} output in {got}, not {policy.compute_dtype}"
    for weight in layer.weights:
        if _is_float(weight.dtype):
            assert keras.backend.standardize_dtype(weight.dtype) == policy.variable_dtype, (
                f"{policy_name}: {weight.path} is {weight.dtype}, not {policy.variable_dtype}"
            )
    for sublayer in layer._flatten_layers(include_self=True):
        if isinstance(sublayer, keras.layers.InputLayer):
            continue
        if isinstance(sublayer, keras.Model) and sublayer is not layer:
            continue  # Keras' containers (Sequential, functional models) take no dtype; their layers are checked
        assert (sublayer.compute_dtype, sublayer.variable_dtype) == (policy.compute_dtype, policy.variable_dtype), (
            f"{policy_name}: sublayer {sublayer.name} ({type(sublayer).__name__}) computes in "
            f"{sublayer.compute_dtype} with {sublayer.variable_dtype} variables: it was not given the dtype policy"
        )


def run_docstring_example(cls: type) -> None:
    """Run the doctests of `cls`'s docstrings (its Example section) with `keras` and every edgeshare layer in
    scope; fail with the doctest report. Once per class and session: several tests share a class."""
    import keras

    import edgeshare.layers as layers

    if cls in _DOCTESTED:
        return
    globs = {"keras": keras, **{n: getattr(layers, n) for n in layers.__all__}}
    tests = [t for t in doctest.DocTestFinder().find(cls, globs=globs) if t.examples]
    assert tests, f"{cls.__name__} has no docstring example"
    runner = doctest.DocTestRunner()
    report: list[str] = []
    for t in tests:
        runner.run(t, out=report.append)
    assert runner.summarize(verbose=False).failed == 0, "".join(report)
    _DOCTESTED.add(cls)
