"""The pure domain: registration rules, results, event settings, the apply pass, the ledger's
entries, replay and verification. Plain Python over plain data: no I/O, no framework."""
