from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.event import Event
from ...models.event_update import EventUpdate
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    event_id: str,
    *,
    body: EventUpdate,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/events/{event_id}".format(
            event_id=quote(str(event_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Event | Problem | None:
    if response.status_code == 200:
        response_200 = Event.from_dict(response.json())

        return response_200

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Event | Problem]:
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
    body: EventUpdate,
) -> Response[Event | Problem]:
    """Change an event (partial)

     Only the fields given change. A capacity raise promotes waitlisters at once (FIFO); turning
    waitlistEnabled off keeps those already waiting.

    Needs an admin key.

    Args:
        event_id (str):
        body (EventUpdate): Partial: only the fields given change. The id is the path's: `eventId`
            is no field
            here (an unknown field, so a 422, as the document says).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Event | Problem]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: EventUpdate,
) -> Event | Problem | None:
    """Change an event (partial)

     Only the fields given change. A capacity raise promotes waitlisters at once (FIFO); turning
    waitlistEnabled off keeps those already waiting.

    Needs an admin key.

    Args:
        event_id (str):
        body (EventUpdate): Partial: only the fields given change. The id is the path's: `eventId`
            is no field
            here (an unknown field, so a 422, as the document says).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Event | Problem
    """

    return sync_detailed(
        event_id=event_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: EventUpdate,
) -> Response[Event | Problem]:
    """Change an event (partial)

     Only the fields given change. A capacity raise promotes waitlisters at once (FIFO); turning
    waitlistEnabled off keeps those already waiting.

    Needs an admin key.

    Args:
        event_id (str):
        body (EventUpdate): Partial: only the fields given change. The id is the path's: `eventId`
            is no field
            here (an unknown field, so a 422, as the document says).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Event | Problem]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    event_id: str,
    *,
    client: AuthenticatedClient | Client,
    body: EventUpdate,
) -> Event | Problem | None:
    """Change an event (partial)

     Only the fields given change. A capacity raise promotes waitlisters at once (FIFO); turning
    waitlistEnabled off keeps those already waiting.

    Needs an admin key.

    Args:
        event_id (str):
        body (EventUpdate): Partial: only the fields given change. The id is the path's: `eventId`
            is no field
            here (an unknown field, so a 422, as the document says).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Event | Problem
    """

    return (
        await asyncio_detailed(
            event_id=event_id,
            client=client,
            body=body,
        )
    ).parsed
