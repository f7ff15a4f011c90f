from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BatchAccepted")


@_attrs_define
class BatchAccepted:
    """
    Attributes:
        batch_id (str):
        ticket_ids (list[str]):
        total (int):
    """

    batch_id: str
    ticket_ids: list[str]
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        batch_id = self.batch_id

        ticket_ids = self.ticket_ids

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "batchId": batch_id,
                "ticketIds": ticket_ids,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        batch_id = d.pop("batchId")

        ticket_ids = cast(list[str], d.pop("ticketIds"))

        total = d.pop("total")

        batch_accepted = cls(
            batch_id=batch_id,
            ticket_ids=ticket_ids,
            total=total,
        )

        batch_accepted.additional_properties = d
        return batch_accepted

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
