"""The admin key `tessera up` keeps in its data dir, and the one API it may be sent to.

`tessera up` and `tessera api` write the base URL they serve into `api-url`; the tools send the
stored key only to that origin (scheme, host, port), so `--url` pointing elsewhere never
receives it. A key given explicitly (`--key`) goes wherever `--url` says.
"""

from __future__ import annotations

from pathlib import Path

from tessera.tools.http_client import origin

ADMIN_KEY_FILE = "admin-key"
API_URL_FILE = "api-url"


def record_api_url(data_dir: Path, base_url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / API_URL_FILE).write_text(base_url + "\n")


def recorded_api_url(data_dir: Path) -> str | None:
    try:
        return (data_dir / API_URL_FILE).read_text().strip() or None
    except OSError:
        return None


def stored_key_for(data_dir: Path, url: str) -> str | None:
    """The data dir's admin key if `url` is the API that data dir serves, else None."""
    served = recorded_api_url(data_dir)
    if served is None or origin(served) != origin(url):
        return None
    try:
        return (data_dir / ADMIN_KEY_FILE).read_text().strip() or None
    except OSError:
        return None
