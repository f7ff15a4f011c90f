"""REDIS_URL as one server or a Sentinel group, and what each client (redis-py, the rate
limiter's storage, Celery's broker) is given for it. Nothing here connects."""

from __future__ import annotations

import re

import pytest
import redis
from limits.storage import storage_from_string
from limits.storage.redis_sentinel import RedisSentinelStorage
from redis.sentinel import SentinelConnectionPool

from api.ratelimit import _storage
from tessera.config import redact_url
from tessera.messaging import redis_client
from tessera.redis_urls import (
    BROKER_TRANSPORT,
    KEEPALIVE,
    SENTINEL_BROKER_TRANSPORT,
    SentinelUrl,
    celery_broker,
    is_sentinel_url,
    parse_sentinel_url,
)

pytestmark = pytest.mark.unit


def test_a_sentinel_url_names_its_sentinels_with_the_default_port_and_its_master() -> None:
    group = parse_sentinel_url("redis+sentinel://h1:26380,h2,10.0.0.3:26379/mymaster")

    assert group == SentinelUrl((("h1", 26380), ("h2", 26379), ("10.0.0.3", 26379)), "mymaster")


def test_a_sentinel_url_carries_credentials_and_a_database_number() -> None:
    group = parse_sentinel_url("redis+sentinel://app:s%40cret@h1,h2/cache?db=3")

    assert (group.username, group.password, group.db, group.master) == ("app", "s@cret", 3, "cache")
    assert group.auth() == {"username": "app", "password": "s@cret"}
    assert "s@cret" not in repr(group)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+sentinel:///mymaster", "at least one sentinel"),
        ("redis+sentinel://h1:26379", "master's name"),
        ("redis+sentinel://h1:26379/", "master's name"),
        ("redis+sentinel://h1:26379/a/b", "master's name"),
        ("redis+sentinel://h1:notaport/m", "host[:port]"),
        ("redis+sentinel://h1/m?db=x", "database number"),
        ("redis+sentinel://h1/m?service=x", "only ?db=N"),
        ("redis://h1/0", "starts with redis+sentinel://"),
    ],
)
def test_a_malformed_sentinel_url_is_refused_saying_why(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_sentinel_url(url)


def test_only_the_sentinel_scheme_is_a_sentinel_url() -> None:
    assert is_sentinel_url("redis+sentinel://h1/m")
    assert is_sentinel_url("REDIS+SENTINEL://h1/m")
    assert not is_sentinel_url("redis://h1:6379/0")
    assert not is_sentinel_url("unix:///tmp/redis.sock?db=0")


def test_a_sentinel_urls_password_is_redacted_for_logs() -> None:
    shown = redact_url("redis+sentinel://:hunter2@h1:26379,h2:26379/mymaster")

    assert "hunter2" not in shown
    assert shown.endswith("@h1:26379,h2:26379/mymaster")


def test_the_messenger_client_of_a_sentinel_url_asks_the_sentinels_for_the_master() -> None:
    client = redis_client("redis+sentinel://:pw@h1:26380,h2/mymaster?db=2")

    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster"
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["socket_timeout"] == 1.0
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26380, 26379]
    assert all(s.connection_pool.connection_kwargs["password"] == "pw" for s in sentinels)
    assert all(s.connection_pool.connection_kwargs["socket_timeout"] == 1.0 for s in sentinels)


def test_the_messenger_client_of_a_plain_url_is_an_ordinary_client() -> None:
    client = redis_client("redis://h1:6379/4")

    assert isinstance(client, redis.Redis)
    assert not isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.connection_kwargs["db"] == 4


def test_the_rate_limiter_reads_a_sentinel_groups_counters_from_its_master_only() -> None:
    uri, options = _storage("redis+sentinel://:pw@h1,h2:26380/mymaster?db=1")

    assert uri == "redis+sentinel://:pw@h1:26379,h2:26380/mymaster"
    assert options["use_replicas"] is False
    assert options["db"] == 1
    storage = storage_from_string(uri, **options)
    assert isinstance(storage, RedisSentinelStorage)
    assert storage.service_name == "mymaster"
    assert storage.storage.connection_pool.connection_kwargs["db"] == 1


def test_the_rate_limiter_of_a_plain_url_is_given_it_unchanged() -> None:
    uri, options = _storage("redis://h1:6379/0")

    assert uri == "redis://h1:6379/0"
    assert "use_replicas" not in options


def test_celerys_broker_of_a_sentinel_url_is_kombus_sentinel_form_with_the_master_name() -> None:
    broker = celery_broker("redis+sentinel://:pw@h1,h2:26380/mymaster?db=2", 1.0)

    assert broker.url == "sentinel://:pw@h1:26379/2;sentinel://:pw@h2:26380/2"
    assert broker.transport == SENTINEL_BROKER_TRANSPORT
    assert broker.transport_options["master_name"] == "mymaster"
    assert broker.transport_options["sentinel_kwargs"]["password"] == "pw"


def test_celerys_broker_of_a_plain_url_is_the_url_on_the_guarded_transport() -> None:
    broker = celery_broker("redis://h1:6379/0", 1.0)

    assert (broker.url, broker.transport, broker.transport_options) == (
        "redis://h1:6379/0",
        BROKER_TRANSPORT,
        {},
    )


def test_kombu_reads_the_broker_url_as_every_sentinel_and_the_database() -> None:
    from kombu import Connection

    broker = celery_broker("redis+sentinel://h1,h2:26380/mymaster?db=2", 1.0)
    connection = Connection(
        broker.url, transport=broker.transport, transport_options=broker.transport_options
    )

    assert connection.alt == ["sentinel://h1:26379/2", "sentinel://h2:26380/2"]
    assert connection.transport.default_port == 26379
    assert connection.virtual_host == "2"


@pytest.mark.parametrize("url", ["redis://h1:6379/0", "redis+sentinel://:pw@h1/mymaster"])
def test_every_redis_connection_notices_a_master_that_died_silently(url: str) -> None:
    """TCP keepalives and a user timeout: a listener that only reads must not sit on a dead
    master past a Sentinel failover."""
    import celeryconfig

    kwargs = redis_client(url).connection_pool.connection_kwargs
    assert kwargs["socket_keepalive"] is True
    assert kwargs["socket_keepalive_options"] == KEEPALIVE["socket_keepalive_options"]
    assert celeryconfig.broker_transport_options["socket_keepalive"] is True
    assert (
        celeryconfig.broker_transport_options["socket_keepalive_options"]
        == KEEPALIVE["socket_keepalive_options"]
    )
