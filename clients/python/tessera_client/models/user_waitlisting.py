from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UserWaitlisting")


@_attrs_define
class UserWaitlisting:
    """
    Attributes:
        date (datetime.date):
        event_id (str):
        position (int):
        seats (int):
        title (str):
        waitlisted_at (datetime.datetime):
    """

    date: datetime.date
    event_id: str
    position: int
    seats: int
    title: str
    waitlisted_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        date = self.date.isoformat()

        event_id = self.event_id

        position = self.position

        seats = self.seats

        title = self.title

        waitlisted_at = self.waitlisted_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "date": date,
                "eventId": event_id,
                "position": position,
                "seats": seats,
                "title": title,
                "waitlistedAt": waitlisted_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        date = datetime.date.fromisoformat(d.pop("date"))

        event_id = d.pop("eventId")

        position = d.pop("position")

        seats = d.pop("seats")

        title = d.pop("title")

        waitlisted_at = datetime.datetime.fromisoformat(d.pop("waitlistedAt"))

        user_waitlisting = cls(
            date=date,
            event_id=event_id,
            position=position,
            seats=seats,
            title=title,
            waitlisted_at=waitlisted_at,
        )

        user_waitlisting.additional_properties = d
        return user_waitlisting

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
