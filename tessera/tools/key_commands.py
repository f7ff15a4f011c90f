"""`tessera keys create|list|revoke`: API keys made at run time, for operators, straight in the
database (like `tessera check`). The secret is printed once, on create; API processes see a
change within a second (they reload the key table), so no API needs to be running."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from tessera.config import DEFAULT_DATA_DIR


@click.group("keys")
def keys_command() -> None:
    """Make, list and revoke API keys (kept as digests; configured keys are not listed)."""


_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    envvar="TESSERA_DATA_DIR",
    show_default=True,
    help="Where the embedded PostgreSQL and Redis keep their data (unless DATABASE_URL is set).",
)


def _sessions(database_url: str) -> sessionmaker[Session]:
    from models.storage.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(database_url, pool_size=1, max_overflow=0))


@keys_command.command("create")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--role", type=click.Choice(["admin", "client"]), required=True)
@_data_dir
def create(name: str, role: str, data_dir: Path) -> None:
    """Make a key and print its secret (shown only now)."""
    from models.domain.errors import DomainError
    from models.domain.identity import check_name
    from models.storage import api_keys
    from tessera.tools.cli import resolved

    try:
        name = check_name(name)
    except DomainError as error:
        raise click.BadParameter(str(error), param_hint="--name") from None
    with resolved(data_dir) as urls:
        sessions = _sessions(urls.database_url)
        with sessions.begin() as session:
            view, secret = api_keys.create(session, name, role)
        sessions.kw["bind"].dispose()
    click.echo(f"keyId:  {view.key_id}", err=True)
    click.echo(f"role:   {view.role}", err=True)
    click.echo("secret (shown only now; Tessera keeps only its digest):", err=True)
    click.echo(secret)


@keys_command.command("list")
@_data_dir
def list_keys(data_dir: Path) -> None:
    """The keys made at run time (never their secrets)."""
    from models.storage import api_keys
    from tessera.tools.cli import resolved

    with resolved(data_dir) as urls:
        sessions = _sessions(urls.database_url)
        with sessions.begin() as session:
            views = api_keys.list_all(session)
        sessions.kw["bind"].dispose()
    for view in views:
        used = view.last_used_at.isoformat() if view.last_used_at else "never"
        click.echo(f"{view.key_id}  {view.role:<6}  last used {used}  {view.name}")


@keys_command.command("revoke")
@click.argument("key_id")
@_data_dir
def revoke(key_id: str, data_dir: Path) -> None:
    """Revoke a key: every API process refuses it within a second or two."""
    from models.domain.errors import KeyNotFound
    from models.storage import api_keys
    from tessera.tools.cli import resolved

    with resolved(data_dir) as urls:
        sessions = _sessions(urls.database_url)
        try:
            with sessions.begin() as session:
                api_keys.remove(session, key_id)
        except KeyNotFound:
            raise click.ClickException(f"no key {key_id!r} was made here") from None
        finally:
            sessions.kw["bind"].dispose()
    click.echo(f"revoked {key_id}", err=True)
