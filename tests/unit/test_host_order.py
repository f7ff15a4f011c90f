"""The order a multi-host URL's hosts are tried in: unreachable ones last until reached."""

from __future__ import annotations

import psycopg
import pytest

from models.storage.db import went_silent
from models.storage.hosts import RECHECK_AFTER_SECONDS, HostOrder, answered, split_hosts

pytestmark = pytest.mark.unit

HOSTS = [("pg1", "5432"), ("pg2", "5432"), ("pg3", "5432")]


def test_hosts_are_tried_in_the_urls_order_while_none_has_failed() -> None:
    assert HostOrder().arrange(HOSTS) == HOSTS


def test_an_unreachable_host_is_tried_last_until_it_is_reached_again() -> None:
    order = HostOrder()
    order.unreachable(("pg1", "5432"))

    assert order.arrange(HOSTS) == [("pg2", "5432"), ("pg3", "5432"), ("pg1", "5432")]
    order.reached(("pg1", "5432"))
    assert order.arrange(HOSTS) == HOSTS


def test_unreachable_hosts_go_to_the_back_in_the_order_they_failed() -> None:
    order = HostOrder()
    order.unreachable(("pg2", "5432"))
    order.unreachable(("pg1", "5432"))
    order.unreachable(("pg2", "5432"))

    assert order.arrange(HOSTS) == [("pg3", "5432"), ("pg1", "5432"), ("pg2", "5432")]


@pytest.mark.parametrize(
    "message",
    [
        'connection to server at "10.0.0.1", port 5432 failed: session is read-only',
        "server is in hot standby mode",
        "FATAL:  the database system is starting up",
        'FATAL:  password authentication failed for user "tessera"',
    ],
)
def test_a_server_that_answered_is_not_unreachable(message: str) -> None:
    assert answered(message)


@pytest.mark.parametrize(
    "message",
    [
        "connection timeout expired",
        'connection to server at "10.0.0.1", port 5432 failed: Connection refused',
        "could not connect to server: No route to host",
    ],
)
def test_a_timeout_or_a_refused_connection_is_unreachable(message: str) -> None:
    assert not answered(message)


def test_one_port_serves_every_host_or_each_host_has_its_own() -> None:
    assert split_hosts("pg1,pg2", "5432") == [("pg1", "5432"), ("pg2", "5432")]
    assert split_hosts("pg1,pg2", "5432,5433") == [("pg1", "5432"), ("pg2", "5433")]
    assert split_hosts("pg1,pg2", None) == [("pg1", ""), ("pg2", "")]
    with pytest.raises(ValueError, match="one port per host"):
        split_hosts("pg1,pg2,pg3", "5432,5433")


def test_a_connection_lost_silently_sends_its_host_back_but_a_server_that_answered_keeps_it() -> (
    None
):
    order = HostOrder()
    pooled_on_pg1 = {"tessera.host": ("pg1", "5432")}

    went_silent(order, pooled_on_pg1, psycopg.errors.AdminShutdown("terminating connection"))
    went_silent(
        order, pooled_on_pg1, psycopg.OperationalError("the database system is starting up")
    )
    went_silent(order, {}, psycopg.OperationalError("Connection timed out"))  # one-host URL
    assert order.arrange(HOSTS) == HOSTS

    went_silent(order, pooled_on_pg1, psycopg.OperationalError("Connection timed out"))
    assert order.arrange(HOSTS) == [("pg2", "5432"), ("pg3", "5432"), ("pg1", "5432")]


def test_a_host_found_unreachable_a_moment_ago_is_not_tried_while_another_is_left() -> None:
    now = [100.0]
    order = HostOrder(clock=lambda: now[0])
    order.unreachable(("pg1", "5432"))

    assert order.to_try(HOSTS) == [("pg2", "5432"), ("pg3", "5432")]
    assert order.to_try([("pg1", "5432")]) == [("pg1", "5432")]  # nothing else: try it
    now[0] += RECHECK_AFTER_SECONDS
    assert order.to_try(HOSTS) == [("pg2", "5432"), ("pg3", "5432"), ("pg1", "5432")]
