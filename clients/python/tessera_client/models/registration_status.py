from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.registration_status_status import RegistrationStatusStatus

T = TypeVar("T", bound="RegistrationStatus")


@_attrs_define
class RegistrationStatus:
    """
    Attributes:
        position (int | None): 1-based line position; null when seated or applied (no place yet)
        seats (int):
        status (RegistrationStatusStatus):
    """

    position: int | None
    seats: int
    status: RegistrationStatusStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        position: int | None
        position = self.position

        seats = self.seats

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "position": position,
                "seats": seats,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_position(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        position = _parse_position(d.pop("position"))

        seats = d.pop("seats")

        status = RegistrationStatusStatus(d.pop("status"))

        registration_status = cls(
            position=position,
            seats=seats,
            status=status,
        )

        registration_status.additional_properties = d
        return registration_status

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
