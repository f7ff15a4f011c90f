"""Tessera's domain: the pure registration rules, the schema and persistence.

Imports no other project package.
"""
