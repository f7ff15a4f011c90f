from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ApplicationOut")


@_attrs_define
class ApplicationOut:
    """A pending application (`admission: approval`): no seat, no place in the line yet.

    Attributes:
        applied_at (datetime.datetime):
        seats (int):
        user_id (str):
    """

    applied_at: datetime.datetime
    seats: int
    user_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        applied_at = self.applied_at.isoformat()

        seats = self.seats

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "appliedAt": applied_at,
                "seats": seats,
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        applied_at = datetime.datetime.fromisoformat(d.pop("appliedAt"))

        seats = d.pop("seats")

        user_id = d.pop("userId")

        application_out = cls(
            applied_at=applied_at,
            seats=seats,
            user_id=user_id,
        )

        application_out.additional_properties = d
        return application_out

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
