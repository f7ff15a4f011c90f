from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.batch_results import BatchResults


T = TypeVar("T", bound="Batch")


@_attrs_define
class Batch:
    """
    Attributes:
        batch_id (str):
        completed (int):
        failed (int):
        pending (int):
        results (BatchResults):
        total (int):
    """

    batch_id: str
    completed: int
    failed: int
    pending: int
    results: BatchResults
    total: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        batch_id = self.batch_id

        completed = self.completed

        failed = self.failed

        pending = self.pending

        results = self.results.to_dict()

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "batchId": batch_id,
                "completed": completed,
                "failed": failed,
                "pending": pending,
                "results": results,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_results import BatchResults  # noqa: PLC0415

        d = dict(src_dict)
        batch_id = d.pop("batchId")

        completed = d.pop("completed")

        failed = d.pop("failed")

        pending = d.pop("pending")

        results = BatchResults.from_dict(d.pop("results"))

        total = d.pop("total")

        batch = cls(
            batch_id=batch_id,
            completed=completed,
            failed=failed,
            pending=pending,
            results=results,
            total=total,
        )

        batch.additional_properties = d
        return batch

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
