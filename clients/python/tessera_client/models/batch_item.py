from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.batch_item_type import BatchItemType
from ..types import UNSET, Unset

T = TypeVar("T", bound="BatchItem")


@_attrs_define
class BatchItem:
    """
    Attributes:
        event_id (str):
        type_ (BatchItemType):
        user_id (str):
        seats (int | None | Unset): register only; default 1
    """

    event_id: str
    type_: BatchItemType
    user_id: str
    seats: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        event_id = self.event_id

        type_ = self.type_.value

        user_id = self.user_id

        seats: int | None | Unset
        if isinstance(self.seats, Unset):
            seats = UNSET
        else:
            seats = self.seats

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "eventId": event_id,
                "type": type_,
                "userId": user_id,
            }
        )
        if seats is not UNSET:
            field_dict["seats"] = seats

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        event_id = d.pop("eventId")

        type_ = BatchItemType(d.pop("type"))

        user_id = d.pop("userId")

        def _parse_seats(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        seats = _parse_seats(d.pop("seats", UNSET))

        batch_item = cls(
            event_id=event_id,
            type_=type_,
            user_id=user_id,
            seats=seats,
        )

        return batch_item
