"""The retry policy of the tasks whose work waits in PostgreSQL rows (drain, deliver)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import OperationalError

# PostgreSQL may be down for a while: the rows wait, and so does the task, retried with capped,
# jittered backoff for as long as it takes (never given up, or the wake-up would be lost).
WHILE_THE_DATABASE_IS_DOWN: dict[str, Any] = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 0.5,
    "retry_backoff_max": 5,
    "retry_jitter": True,
    "max_retries": None,
}
