from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="WaitlistEntry")


@_attrs_define
class WaitlistEntry:
    """
    Attributes:
        position (int):
        seats (int):
        user_id (str):
        waitlisted_at (datetime.datetime):
    """

    position: int
    seats: int
    user_id: str
    waitlisted_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        position = self.position

        seats = self.seats

        user_id = self.user_id

        waitlisted_at = self.waitlisted_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "position": position,
                "seats": seats,
                "userId": user_id,
                "waitlistedAt": waitlisted_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        position = d.pop("position")

        seats = d.pop("seats")

        user_id = d.pop("userId")

        waitlisted_at = datetime.datetime.fromisoformat(d.pop("waitlistedAt"))

        waitlist_entry = cls(
            position=position,
            seats=seats,
            user_id=user_id,
            waitlisted_at=waitlisted_at,
        )

        waitlist_entry.additional_properties = d
        return waitlist_entry

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
