from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.offered_status import OfferedStatus
from ...models.prequeued_status import PrequeuedStatus
from ...models.problem import Problem
from ...models.registration_status import RegistrationStatus
from ...types import Response


def _get_kwargs(
    event_id: str,
    user_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/events/{event_id}/registrations/{user_id}".format(
            event_id=quote(str(event_id), safe=""),
            user_id=quote(str(user_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem | None:
    if response.status_code == 200:

        def _parse_response_200(data: object) -> OfferedStatus | PrequeuedStatus | RegistrationStatus:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_standing_type_0 = RegistrationStatus.from_dict(data)

                return componentsschemas_standing_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_standing_type_1 = OfferedStatus.from_dict(data)

                return componentsschemas_standing_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_standing_type_2 = PrequeuedStatus.from_dict(data)

            return componentsschemas_standing_type_2

        response_200 = _parse_response_200(response.json())

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
) -> Response[OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem]:
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
) -> Response[OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem]:
    """Where a user stands at an event

     Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        user_id=user_id,
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
) -> OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem | None:
    """Where a user stands at an event

     Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem
    """

    return sync_detailed(
        event_id=event_id,
        user_id=user_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    event_id: str,
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem]:
    """Where a user stands at an event

     Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem]
    """

    kwargs = _get_kwargs(
        event_id=event_id,
        user_id=user_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    event_id: str,
    user_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem | None:
    """Where a user stands at an event

     Attendee tokens may call it for their own user only.

    Args:
        event_id (str):
        user_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OfferedStatus | PrequeuedStatus | RegistrationStatus | Problem
    """

    return (
        await asyncio_detailed(
            event_id=event_id,
            user_id=user_id,
            client=client,
        )
    ).parsed
