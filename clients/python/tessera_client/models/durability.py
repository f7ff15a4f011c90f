from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.durability_mode import DurabilityMode

T = TypeVar("T", bound="Durability")


@_attrs_define
class Durability:
    """
    Attributes:
        detail (str):
        guaranteed (bool): whether an acknowledged (committed) ticket survives the loss of the database's primary: true
            only with a synchronous standby
        mode (DurabilityMode):
    """

    detail: str
    guaranteed: bool
    mode: DurabilityMode
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail

        guaranteed = self.guaranteed

        mode = self.mode.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "guaranteed": guaranteed,
                "mode": mode,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        detail = d.pop("detail")

        guaranteed = d.pop("guaranteed")

        mode = DurabilityMode(d.pop("mode"))

        durability = cls(
            detail=detail,
            guaranteed=guaranteed,
            mode=mode,
        )

        durability.additional_properties = d
        return durability

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
