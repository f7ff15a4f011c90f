"""Celery task definitions: thin, named, idempotent, `acks_late`. They carry no data (at most a
webhook id; PostgreSQL holds the rest) and delegate to workers."""
