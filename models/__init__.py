"""edgeshare.models: the reference models. Each module defines `REFERENCE`, a ReferenceModel with a
builder and its sample (and calibration) data. Modules are discovered, so adding a model is adding a
file."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEED = 0


def seeded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, run after `keras.utils.set_random_seed(SEED)` (Python, NumPy and TensorFlow): the same weights and
    the same training run on every call, so that `make export` gives the same table every time."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        import keras

        keras.utils.set_random_seed(SEED)
        return fn(*args, **kwargs)

    return run


@dataclass(frozen=True)
class ReferenceModel:
    """A reference model. `build` and `train` are seeded (see `seeded`) whoever calls them."""

    name: str
    description: str
    families: tuple[str, ...]
    build: Callable[[], Any]  # -> keras.Model
    sample_data: Callable[[int], list[Any]]  # n -> input arrays with n samples (also calibration data)
    train: Callable[..., dict[str, float]] | None = None  # (model, ...) short real training -> metrics
    export_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "build", seeded(self.build))
        if self.train is not None:
            object.__setattr__(self, "train", seeded(self.train))


def reference_models() -> dict[str, ReferenceModel]:
    """All reference models, by name, in module order."""
    out: dict[str, ReferenceModel] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "export_reference":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        ref = getattr(mod, "REFERENCE", None)
        if isinstance(ref, ReferenceModel):
            out[ref.name] = ref
    return out


def get(name: str) -> ReferenceModel:
    models = reference_models()
    if name not in models:
        raise KeyError(f"no reference model {name!r}; available: {', '.join(models)}")
    return models[name]
