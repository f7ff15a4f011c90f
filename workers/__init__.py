"""The Celery side of Tessera: the app and its per-process runtime, the applier (passes over
every event with pending tickets), the sweeper and the webhook deliverer. Tasks call in here."""
