"""Tessera's domain: pure registration rules, the schema, and persistence. Imports no other project package."""
