from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.ledger_page import LedgerPage
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    event_id: str,
    *,
    after: int | Unset = 0,
    limit: int | Unset = 100,
    if_none_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    params: dict[str, Any] = {}

    params["after"] = after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/events/{event_id}/ledger".format(
            event_id=quote(str(event_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | LedgerPage | Problem | None:
    if response.status_code == 200:
        response_200 = LedgerPage.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | LedgerPage | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = 0,
    limit: int | Unset = 100,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | LedgerPage | Problem]:
    """The event's ledger (verifiable history)

     Every change to the event's seats and line, hash-chained: see docs/LEDGER.md and `tessera verify`.

    Args:
        event_id (str):
        after (int | Unset):  Default: 0.
        limit (int | Unset):  Default: 100.
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | LedgerPage | Problem]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        after=after,
        limit=limit,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = 0,
    limit: int | Unset = 100,
    if_none_match: str | Unset = UNSET,
) -> Any | LedgerPage | Problem | None:
    """The event's ledger (verifiable history)

     Every change to the event's seats and line, hash-chained: see docs/LEDGER.md and `tessera verify`.

    Args:
        event_id (str):
        after (int | Unset):  Default: 0.
        limit (int | Unset):  Default: 100.
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | LedgerPage | Problem
    """

    return sync_detailed(
        event_id=event_id,
        client=client,
        after=after,
        limit=limit,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = 0,
    limit: int | Unset = 100,
    if_none_match: str | Unset = UNSET,
) -> Response[Any | LedgerPage | Problem]:
    """The event's ledger (verifiable history)

     Every change to the event's seats and line, hash-chained: see docs/LEDGER.md and `tessera verify`.

    Args:
        event_id (str):
        after (int | Unset):  Default: 0.
        limit (int | Unset):  Default: 100.
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | LedgerPage | Problem]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        after=after,
        limit=limit,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    after: int | Unset = 0,
    limit: int | Unset = 100,
    if_none_match: str | Unset = UNSET,
) -> Any | LedgerPage | Problem | None:
    """The event's ledger (verifiable history)

     Every change to the event's seats and line, hash-chained: see docs/LEDGER.md and `tessera verify`.

    Args:
        event_id (str):
        after (int | Unset):  Default: 0.
        limit (int | Unset):  Default: 100.
        if_none_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | LedgerPage | Problem
    """

    return (
        await asyncio_detailed(
            event_id=event_id,
            client=client,
            after=after,
            limit=limit,
            if_none_match=if_none_match,
        )
    ).parsed
