"""Celery task definitions: thin, named, idempotent. They take ids and delegate to workers."""
