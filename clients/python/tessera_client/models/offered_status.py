from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="OfferedStatus")


@_attrs_define
class OfferedStatus:
    """Seats held for the party until `expiresAt` (it has left the line: no position).

    Attributes:
        expires_at (datetime.datetime):
        position (None):
        seats (int):
        status (Literal['offered']):
    """

    expires_at: datetime.datetime
    position: None
    seats: int
    status: Literal["offered"]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        expires_at = self.expires_at.isoformat()

        position = self.position

        seats = self.seats

        status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "expiresAt": expires_at,
                "position": position,
                "seats": seats,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        expires_at = datetime.datetime.fromisoformat(d.pop("expiresAt"))

        position = d.pop("position")

        seats = d.pop("seats")

        status = cast(Literal["offered"], d.pop("status"))
        if status != "offered":
            raise ValueError(f"status must match const 'offered', got '{status}'")

        offered_status = cls(
            expires_at=expires_at,
            position=position,
            seats=seats,
            status=status,
        )

        offered_status.additional_properties = d
        return offered_status

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
