from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.offer_reply import OfferReply
from ...models.problem import Problem
from ...models.ticket import Ticket
from ...types import UNSET, Response, Unset


def _get_kwargs(
    event_id: str,
    user_id: str,
    *,
    body: OfferReply | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/events/{event_id}/offers/{user_id}/decline".format(
            event_id=quote(str(event_id), safe=""),
            user_id=quote(str(user_id), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | Ticket | None:
    if response.status_code == 202:
        response_202 = Ticket.from_dict(response.json())

        return response_202

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | Ticket]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    event_id: str,
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: OfferReply | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | Ticket]:
    """Decline an offer (command)

     Result `declined` (the seats are settled again), or `denied`/NO_OPEN_OFFER.

    Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):
        idempotency_key (str | Unset):
        body (OfferReply | Unset): An accept or decline (or an approve or reject) takes no fields:
            `{}` (or no body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Ticket]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        user_id=user_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    event_id: str,
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: OfferReply | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | Ticket | None:
    """Decline an offer (command)

     Result `declined` (the seats are settled again), or `denied`/NO_OPEN_OFFER.

    Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):
        idempotency_key (str | Unset):
        body (OfferReply | Unset): An accept or decline (or an approve or reject) takes no fields:
            `{}` (or no body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Ticket
    """

    return sync_detailed(
        event_id=event_id,
        user_id=user_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    event_id: str,
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: OfferReply | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | Ticket]:
    """Decline an offer (command)

     Result `declined` (the seats are settled again), or `denied`/NO_OPEN_OFFER.

    Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):
        idempotency_key (str | Unset):
        body (OfferReply | Unset): An accept or decline (or an approve or reject) takes no fields:
            `{}` (or no body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Ticket]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        user_id=user_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    event_id: str,
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: OfferReply | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | Ticket | None:
    """Decline an offer (command)

     Result `declined` (the seats are settled again), or `denied`/NO_OPEN_OFFER.

    Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):
        idempotency_key (str | Unset):
        body (OfferReply | Unset): An accept or decline (or an approve or reject) takes no fields:
            `{}` (or no body).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Ticket
    """

    return (
        await asyncio_detailed(
            event_id=event_id,
            user_id=user_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
