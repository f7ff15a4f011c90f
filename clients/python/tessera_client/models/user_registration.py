from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UserRegistration")


@_attrs_define
class UserRegistration:
    """
    Attributes:
        date (datetime.date):
        event_id (str):
        registered_at (datetime.datetime):
        seats (int):
        title (str):
    """

    date: datetime.date
    event_id: str
    registered_at: datetime.datetime
    seats: int
    title: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        date = self.date.isoformat()

        event_id = self.event_id

        registered_at = self.registered_at.isoformat()

        seats = self.seats

        title = self.title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "date": date,
                "eventId": event_id,
                "registeredAt": registered_at,
                "seats": seats,
                "title": title,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        date = datetime.date.fromisoformat(d.pop("date"))

        event_id = d.pop("eventId")

        registered_at = datetime.datetime.fromisoformat(d.pop("registeredAt"))

        seats = d.pop("seats")

        title = d.pop("title")

        user_registration = cls(
            date=date,
            event_id=event_id,
            registered_at=registered_at,
            seats=seats,
            title=title,
        )

        user_registration.additional_properties = d
        return user_registration

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
