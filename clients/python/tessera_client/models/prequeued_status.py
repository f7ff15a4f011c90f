from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PrequeuedStatus")


@_attrs_define
class PrequeuedStatus:
    """In the pre-queue of an on-sale draw: no seat and no place until the draw.

    Attributes:
        position (None):
        seats (int):
        status (Literal['prequeued']):
    """

    position: None
    seats: int
    status: Literal["prequeued"]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        position = self.position

        seats = self.seats

        status = self.status

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
        position = d.pop("position")

        seats = d.pop("seats")

        status = cast(Literal["prequeued"], d.pop("status"))
        if status != "prequeued":
            raise ValueError(f"status must match const 'prequeued', got '{status}'")

        prequeued_status = cls(
            position=position,
            seats=seats,
            status=status,
        )

        prequeued_status.additional_properties = d
        return prequeued_status

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
