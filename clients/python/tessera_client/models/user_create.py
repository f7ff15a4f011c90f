from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="UserCreate")


@_attrs_define
class UserCreate:
    """
    Attributes:
        name (str):
        user_id (str):
    """

    name: str
    user_id: str

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        user_id = self.user_id

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        user_id = d.pop("userId")

        user_create = cls(
            name=name,
            user_id=user_id,
        )

        return user_create
