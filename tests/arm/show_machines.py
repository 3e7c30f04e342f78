"""Print `test-arm:   LABEL VARIANT: machine: MACHINE` for each result of an `edgeshare bench --json` file
(the runner's platform.machine() where the benchmark ran).

Usage: python show_machines.py BENCH.json LABEL
"""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        results = json.load(fh)["results"]
    for r in results:
        print(f"test-arm:   {sys.argv[2]} {r['variant']!r}: machine: {r.get('machine')}")
    sys.exit(0 if results else 1)
