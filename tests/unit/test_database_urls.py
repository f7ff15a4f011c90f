"""The database URLs operators write, as SQLAlchemy and psycopg are given them."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, make_url

from models.storage.db import sqlalchemy_url

pytestmark = pytest.mark.unit


def connect_args(url: str) -> dict[str, object]:
    engine = create_engine(sqlalchemy_url(url))
    try:
        return dict(engine.dialect.create_connect_args(make_url(sqlalchemy_url(url)))[1])
    finally:
        engine.dispose()


def test_a_single_host_url_only_gains_the_driver() -> None:
    url = "postgresql://tessera:pw@db:5432/tessera?sslmode=require"
    assert sqlalchemy_url(url) == "postgresql+psycopg://tessera:pw@db:5432/tessera?sslmode=require"


def test_a_multi_host_url_reaches_psycopg_with_every_host_its_port_and_the_session_attrs() -> None:
    args = connect_args(
        "postgresql://tessera:pw@pg1:5432,pg2:5433,pg3/tessera?target_session_attrs=read-write"
    )
    assert args["host"] == "pg1,pg2,pg3"
    assert args["port"] == "5432,5433,"  # libpq: an empty entry is the default port
    assert args["target_session_attrs"] == "read-write"
    assert (args["dbname"], args["user"], args["password"]) == ("tessera", "tessera", "pw")


def test_a_multi_host_url_without_ports_or_query_keeps_its_hosts_in_order() -> None:
    args = connect_args("postgres://tessera@pg2,pg1/tessera")
    assert args["host"] == "pg2,pg1"
    assert "target_session_attrs" not in args
