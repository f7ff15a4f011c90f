"""Tessera's domain and its persistence, in two rooms: `models.domain`, the pure registration
rules, results, settings, the apply pass and the ledger (no I/O); and `models.storage`, the
schema, migrations and everything that reads or writes PostgreSQL. `models.services` runs the
synchronous writes through both. Nothing in `domain` imports `storage` (tests/unit/test_layers.py).

Imports no other project package.
"""
