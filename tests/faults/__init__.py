"""Fault injection: the real stack on private servers, killed, paused and restarted under load."""
