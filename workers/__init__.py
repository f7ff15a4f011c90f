"""The Celery side of Tessera: the app, the per-event apply loop, the sweeper, publishing."""
