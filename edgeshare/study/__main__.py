"""`python -m edgeshare.study`: see edgeshare.study.cli."""

from __future__ import annotations

from edgeshare.study.cli import main

raise SystemExit(main())
