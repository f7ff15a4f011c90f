from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RegisterRequest")


@_attrs_define
class RegisterRequest:
    """
    Attributes:
        user_id (str):
        seats (int | Unset):  Default: 1.
    """

    user_id: str
    seats: int | Unset = 1

    def to_dict(self) -> dict[str, Any]:
        user_id = self.user_id

        seats = self.seats

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "userId": user_id,
            }
        )
        if seats is not UNSET:
            field_dict["seats"] = seats

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        user_id = d.pop("userId")

        seats = d.pop("seats", UNSET)

        register_request = cls(
            user_id=user_id,
            seats=seats,
        )

        return register_request
