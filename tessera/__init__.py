"""Leaf infrastructure (config, embedded servers, messaging) and the `tessera` command."""
