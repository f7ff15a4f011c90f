"""The document's webhook URL pattern and the API's URL check agree: every string the pattern
admits parses, and every URL the parser refuses (or the pattern does not cover) is refused by
the request schema with a 422 naming `url`, so nothing passes the document only to be refused
for its form."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.webhook_schemas import URL_PATTERN, WebhookCreate
from tessera.webhook_urls import UnsafeUrl, parse

pytestmark = pytest.mark.unit


@settings(max_examples=300)
@given(st.from_regex(URL_PATTERN, fullmatch=True).filter(lambda url: len(url) <= 2048))
def test_every_url_the_pattern_admits_parses(url: str) -> None:
    parse(url)  # raises UnsafeUrl for anything it would refuse
    WebhookCreate.model_validate({"url": url, "events": ["*"]})


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40))
def test_a_url_the_parser_refuses_the_pattern_refuses_too(tail: str) -> None:
    url = "http://" + tail
    try:
        parse(url)
    except UnsafeUrl:
        assert re.fullmatch(URL_PATTERN, url) is None, url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("HTTP://", "host"),
        ("https://", "host"),
        ("http://...", "host"),
        ("http://a:0/", "port 0"),
        ("http://a:65536/", "valid URL"),
        ("http://u@a/", "credentials"),
        ("http://a/#x", "fragment"),
        ("http://[::zz]/", "valid URL"),
        ("http://a:/", "http(s)://host"),
    ],
)
def test_the_request_schema_refuses_a_url_by_its_form_with_the_reason(url: str, why: str) -> None:
    assert re.fullmatch(URL_PATTERN, url) is None
    with pytest.raises(ValidationError) as refused:
        WebhookCreate.model_validate({"url": url, "events": ["*"]})
    [error] = refused.value.errors()
    assert error["loc"] == ("url",)
    assert why in error["msg"]


def test_urls_receivers_use_fit_the_pattern() -> None:
    for url in (
        "https://hooks.example.com/in/tessera?x=1",
        "HTTPS://hooks.example.com",
        "http://127.0.0.1:8080/hook",
        "http://[2606:4700::1111]:8080/x",
        "https://example.com./",
    ):
        assert re.fullmatch(URL_PATTERN, url), url
