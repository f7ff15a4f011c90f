from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.ticket_status import TicketStatus
from ..models.ticket_type import TicketType

if TYPE_CHECKING:
    from ..models.ticket_result import TicketResult


T = TypeVar("T", bound="Ticket")


@_attrs_define
class Ticket:
    """
    Attributes:
        batch_id (None | str):
        completed_at (datetime.datetime | None):
        created_at (datetime.datetime):
        event_id (str):
        result (None | TicketResult):
        seats (int): the party's seats (a register's; 1 otherwise)
        status (TicketStatus):
        ticket_id (str):
        type_ (TicketType):
        user_id (str):
    """

    batch_id: None | str
    completed_at: datetime.datetime | None
    created_at: datetime.datetime
    event_id: str
    result: None | TicketResult
    seats: int
    status: TicketStatus
    ticket_id: str
    type_: TicketType
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.ticket_result import TicketResult  # noqa: PLC0415

        batch_id: None | str
        batch_id = self.batch_id

        completed_at: None | str
        if isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        created_at = self.created_at.isoformat()

        event_id = self.event_id

        result: dict[str, Any] | None
        if isinstance(self.result, TicketResult):
            result = self.result.to_dict()
        else:
            result = self.result

        seats = self.seats

        status = self.status.value

        ticket_id = self.ticket_id

        type_ = self.type_.value

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "batchId": batch_id,
                "completedAt": completed_at,
                "createdAt": created_at,
                "eventId": event_id,
                "result": result,
                "seats": seats,
                "status": status,
                "ticketId": ticket_id,
                "type": type_,
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ticket_result import TicketResult  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_batch_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        batch_id = _parse_batch_id(d.pop("batchId"))

        def _parse_completed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        completed_at = _parse_completed_at(d.pop("completedAt"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        event_id = d.pop("eventId")

        def _parse_result(data: object) -> None | TicketResult:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_0 = TicketResult.from_dict(data)

                return result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TicketResult, data)

        result = _parse_result(d.pop("result"))

        seats = d.pop("seats")

        status = TicketStatus(d.pop("status"))

        ticket_id = d.pop("ticketId")

        type_ = TicketType(d.pop("type"))

        user_id = d.pop("userId")

        ticket = cls(
            batch_id=batch_id,
            completed_at=completed_at,
            created_at=created_at,
            event_id=event_id,
            result=result,
            seats=seats,
            status=status,
            ticket_id=ticket_id,
            type_=type_,
            user_id=user_id,
        )

        ticket.additional_properties = d
        return ticket

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
