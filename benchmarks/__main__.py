"""`python -m benchmarks`: see benchmarks.cli."""

from __future__ import annotations

import sys

from benchmarks.cli import main

# The guard matters: load processes are started with `spawn`, which imports this module again.
if __name__ == "__main__":
    sys.exit(main())
