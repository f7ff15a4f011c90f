"""The tools' API key goes only where it was given for: never across a redirect to another
origin, and the key `tessera up` keeps only to the API of its own data dir."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tessera.tools import importer
from tessera.tools.ledger_commands import verify_command
from tessera.tools.ledger_sources import HttpSource, SourceError
from tessera.tools.stored_key import record_api_url

pytestmark = pytest.mark.integration

KEY = "a-stored-admin-key-of-enough-length"


class Recorder:
    """A loopback HTTP server that records each request's Authorization header and either
    redirects (to `redirect_to`) or answers 404 as JSON."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.redirect_to: str | None = None
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.seen.append((self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if recorder.redirect_to is not None:
                    self.send_response(307)
                    self.send_header("Location", recorder.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b'{"code": "NOT_FOUND", "detail": "nothing here"}'
                self.send_response(404)
                self.send_header("Content-Type", "application/problem+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer  # noqa: N815 - the handler's protocol
            do_POST = _answer  # noqa: N815

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def test_the_importer_does_not_forward_its_key_across_a_redirect_to_another_origin(
    api: Recorder, elsewhere: Recorder
) -> None:
    api.redirect_to = elsewhere.url
    client = importer.ApiClient(api.url, KEY, attempts=1)

    client.call("GET", "/batches/b1")

    assert api.seen == [("/batches/b1", f"Bearer {KEY}")]
    assert elsewhere.seen == [("/batches/b1", None)]


def test_the_importer_keeps_its_key_on_a_redirect_within_the_same_origin(api: Recorder) -> None:
    api.redirect_to = api.url + "/moved"
    client = importer.ApiClient(api.url, KEY, attempts=1)

    client.call("GET", "/x")

    assert api.seen[:2] == [("/x", f"Bearer {KEY}"), ("/moved/x", f"Bearer {KEY}")]


def test_the_ledger_reader_does_not_forward_its_key_across_a_redirect(
    api: Recorder, elsewhere: Recorder
) -> None:
    api.redirect_to = elsewhere.url

    with pytest.raises(SourceError):
        HttpSource(api.url, KEY).snapshot("launch", with_views=False)

    assert api.seen[0][1] == f"Bearer {KEY}"
    assert elsewhere.seen
    assert all(auth is None for _, auth in elsewhere.seen)


def _data_dir_with_key(root: Path, served: str | None) -> None:
    data_dir = root / ".tessera"
    data_dir.mkdir()
    (data_dir / "admin-key").write_text(KEY + "\n")
    if served is not None:
        record_api_url(data_dir, served)


def test_verify_does_not_send_the_stored_key_to_another_api(
    api: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TESSERA_API_KEY", raising=False)
    _data_dir_with_key(tmp_path, "http://127.0.0.1:8000")

    result = CliRunner().invoke(verify_command, ["launch", "--url", api.url])

    assert result.exit_code == 2
    assert api.seen
    assert all(auth is None for _, auth in api.seen)


def test_verify_sends_the_stored_key_to_the_api_of_its_data_dir(
    api: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TESSERA_API_KEY", raising=False)
    _data_dir_with_key(tmp_path, api.url)

    CliRunner().invoke(verify_command, ["launch", "--url", api.url + "/"])

    assert api.seen[0][1] == f"Bearer {KEY}"


def test_an_explicit_key_goes_where_the_url_says(
    api: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _data_dir_with_key(tmp_path, "http://127.0.0.1:8000")

    CliRunner().invoke(verify_command, ["launch", "--url", api.url, "--key", "given-key"])

    assert api.seen[0][1] == "Bearer given-key"
