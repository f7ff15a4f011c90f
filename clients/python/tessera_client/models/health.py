from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.health_status import HealthStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.checks import Checks
    from ..models.durability import Durability


T = TypeVar("T", bound="Health")


@_attrs_define
class Health:
    """
    Attributes:
        checks (Checks):
        status (HealthStatus):
        durability (Durability | None | Unset): what the database can promise across a failover; null while PostgreSQL
            does not answer
    """

    checks: Checks
    status: HealthStatus
    durability: Durability | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.durability import Durability  # noqa: PLC0415

        checks = self.checks.to_dict()

        status = self.status.value

        durability: dict[str, Any] | None | Unset
        if isinstance(self.durability, Unset):
            durability = UNSET
        elif isinstance(self.durability, Durability):
            durability = self.durability.to_dict()
        else:
            durability = self.durability

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checks": checks,
                "status": status,
            }
        )
        if durability is not UNSET:
            field_dict["durability"] = durability

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.checks import Checks  # noqa: PLC0415
        from ..models.durability import Durability  # noqa: PLC0415

        d = dict(src_dict)
        checks = Checks.from_dict(d.pop("checks"))

        status = HealthStatus(d.pop("status"))

        def _parse_durability(data: object) -> Durability | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                durability_type_0 = Durability.from_dict(data)

                return durability_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Durability | None | Unset, data)

        durability = _parse_durability(d.pop("durability", UNSET))

        health = cls(
            checks=checks,
            status=status,
            durability=durability,
        )

        health.additional_properties = d
        return health

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
