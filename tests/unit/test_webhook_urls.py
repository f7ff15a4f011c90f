"""Which webhook URLs Tessera calls: http(s) only, and no address inside its own network."""

from __future__ import annotations

import ipaddress

import pytest

from tessera.webhook_urls import Target, UnsafeUrl, check, parse, refusal, resolve

pytestmark = pytest.mark.unit


def test_a_plain_https_url_is_taken_apart_for_the_request() -> None:
    target = parse("HTTPS://hooks.example.com/in/tessera?x=1")

    assert target == Target("https", "hooks.example.com", 443, "/in/tessera?x=1")
    assert target.host_header == "hooks.example.com"
    assert parse("http://[2606:4700::1111]:8080").host_header == "[2606:4700::1111]:8080"
    assert parse("http://example.com").path == "/"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("example.com/hook", "http or https"),
        ("http://", "host"),
        ("http:///path", "host"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://token@example.com/", "credentials"),
        ("https://example.com/#frag", "fragment"),
        ("https://example.com/ path", "spaces"),
        ("https://exa\tmple.com/", "spaces"),
        ("https://exämple.com/", "ASCII"),
        ("https://example.com:0/", "port 0"),
        ("https://example.com:99999/", "valid URL"),
        ("https://example.com:port/", "valid URL"),
        ("https://[::1/", "valid URL"),
        ("https://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_anything_but_a_plain_absolute_http_url_is_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl, match=why):
        parse(url)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: still this machine
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("0.0.0.0", "private"),  # noqa: S104 - the address under test, not a bind
        ("224.0.0.1", "not a unicast address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("198.18.0.1", "private"),
        ("2002:7f00:1::1", "6to4 (an IPv4 address tunnelled through relays)"),  # 127.0.0.1
        ("2002:a9fe:a9fe::1", "6to4 (an IPv4 address tunnelled through relays)"),  # metadata
        ("2002:808:808::1", "6to4 (an IPv4 address tunnelled through relays)"),  # even public
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("64:ff9b:1::808:808", "private"),  # local-use NAT64
        ("2001::1", "private"),  # Teredo
    ],
)
def test_addresses_inside_the_network_are_refused(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_name_resolving_to_loopback_is_refused_unless_private_addresses_are_allowed() -> None:
    target = parse("http://localhost:9/hook")

    with pytest.raises(UnsafeUrl, match="loopback"):
        resolve(target, allow_private=False)
    assert ipaddress.ip_address("127.0.0.1") in resolve(target, allow_private=True)


def test_a_literal_address_is_checked_without_resolving() -> None:
    with pytest.raises(UnsafeUrl, match="link-local"):
        check("http://169.254.169.254/latest/meta-data/", allow_private=False)
    with pytest.raises(UnsafeUrl, match="loopback"):
        check("http://[::ffff:127.0.0.1]:8080/", allow_private=False)
    assert resolve(parse("http://8.8.8.8/"), allow_private=False) == [
        ipaddress.ip_address("8.8.8.8")
    ]


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        check("https://no-such-host.invalid/hook", allow_private=False)


def test_with_private_addresses_allowed_the_host_need_not_resolve_at_subscription() -> None:
    assert check("http://receiver.invalid:8080/", allow_private=True).port == 8080


@pytest.mark.parametrize("spelling", ["2130706433", "0177.0.0.1", "127.1", "0x7f.1", "0x7f000001"])
def test_other_spellings_of_loopback_are_refused(spelling: str) -> None:
    # not IP literals to Python, but the resolver (inet_aton) reads them as 127.0.0.1
    with pytest.raises(UnsafeUrl, match="loopback"):
        check(f"http://{spelling}:8080/hook", allow_private=False)
