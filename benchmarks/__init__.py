"""Benchmarks of the real stack, reported as ratios against this machine's own limits.

`python -m benchmarks [--scale full|smoke] [--only SCENARIO ...] [--out bench-results.json]`;
see docs/BENCHMARKS.md.
"""
