"""`python -m tests.corpus.survey`: verify and repair every corpus file and print, per file, the weight bytes,
verify's floor, what verify says a repair reaches, what the repair wrote, and the wall time of each.

Reads the cached corpus (`make corpus` first). `--largest N` keeps the N largest files; `--json PATH` writes
the rows.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.corpus.fetch import fetch
from tests.corpus.generate import generate


def survey(files: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    from edgeshare.converters import verify
    from edgeshare.converters.repair import repair

    rows = []
    for case, path in files:
        t0 = time.perf_counter()
        rep = verify(str(path))
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            fixed = repair(str(path), str(Path(tmp) / f"fixed{path.suffix}"))
        t2 = time.perf_counter()
        rows.append({
            "case": case, "file_bytes": path.stat().st_size, "weight_bytes": rep.weight_bytes,
            "floor_bytes": rep.floor_bytes, "repair_reaches_bytes": rep.repair_reaches_bytes,
            "repaired_weight_bytes": fixed.weight_bytes_after if fixed.output else None,
            "repair_ok": fixed.ok, "verify_s": round(t1 - t0, 3), "repair_s": round(t2 - t1, 3),
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--largest", type=int, default=0, help="only the N largest files")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    files = [(f.id, f.path) for f in fetch(quiet=True)] + [(f"generated/{p.name}", p) for p in generate(quiet=True)]
    if args.largest:
        files = sorted(files, key=lambda f: -f[1].stat().st_size)[: args.largest]
    rows = survey(files)
    head = f"{'case':58} {'weights':>10} {'floor':>10} {'reaches':>10} {'repaired':>10} {'verify s':>8} {'repair s':>8}"
    print(head)
    for r in rows:
        print(f"{r['case'][:58]:58} {r['weight_bytes']:>10} {r['floor_bytes']:>10} "
              f"{r['repair_reaches_bytes'] if r['repair_reaches_bytes'] is not None else '-':>10} "
              f"{r['repaired_weight_bytes'] if r['repaired_weight_bytes'] is not None else '-':>10} "
              f"{r['verify_s']:>8.2f} {r['repair_s']:>8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
