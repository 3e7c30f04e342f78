"""The training child process of `--backend jax` (see edgeshare.study.pipeline).

`python -m edgeshare.study.worker JOBS.json RESULT.json`, with KERAS_BACKEND set by the parent: trains
every job, saves each model as .keras and writes the float metrics to RESULT.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from edgeshare.study.config import DigitsSize, StudyConfig, TextSize


def _tuples(d: dict[str, Any]) -> dict[str, Any]:
    """JSON turned the tuples of the configuration into lists: turn them back."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def config_from_dict(d: dict[str, Any]) -> StudyConfig:
    """The StudyConfig of `dataclasses.asdict(config)` after a JSON round trip."""
    rest: dict[str, Any] = _tuples({k: v for k, v in d.items() if k not in ("digits", "text")})
    return StudyConfig(digits=DigitsSize(**_tuples(d["digits"])), text=TextSize(**_tuples(d["text"])), **rest)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m edgeshare.study.worker JOBS.json RESULT.json", file=sys.stderr)
        return 2
    import keras

    from edgeshare.study.corpus import corpus_bytes
    from edgeshare.study.pipeline import load_text_data, train_one
    from edgeshare.study.training import DigitsData

    spec = json.loads(Path(argv[0]).read_text())
    config = config_from_dict(spec["config"])
    out_dir = Path(spec["out_dir"])
    jobs = [tuple(j) for j in spec["jobs"]]
    digits = DigitsData.load() if any(j[0] == "digits" for j in jobs) else None
    text = load_text_data(config, corpus_bytes(spec["corpus"])) if any(j[0] == "text" for j in jobs) else None
    results = []
    for task, technique, seed in jobs:
        trained = train_one(config, task, technique, seed, digits, text)
        folder = out_dir / "keras" / task / technique / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key, model in trained.models.items():
            paths[key] = str(folder / f"{key}.keras")
            model.save(paths[key])
        results.append({"task": task, "technique": technique, "seed": seed, "models": paths,
                        "metric": trained.metric, "task_metrics": trained.task_metrics,
                        "train_seconds": trained.train_seconds, "backend": keras.backend.backend()})
        print(f"[{keras.backend.backend()}] {task} {technique} seed {seed}: {trained.metric:.4f}", flush=True)
    Path(argv[1]).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
