from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.ledger_entry_kind import LedgerEntryKind
from ..models.ledger_entry_type_type_0 import LedgerEntryTypeType0

if TYPE_CHECKING:
    from ..models.ledger_entry_outcome import LedgerEntryOutcome


T = TypeVar("T", bound="LedgerEntry")


@_attrs_define
class LedgerEntry:
    """One entry of an event's ledger (docs/LEDGER.md): `hash` is the SHA-256 of the entry
    without it, as canonical JSON; `prevHash` the previous entry's (64 zeros for index 1).

        Attributes:
            accepted_at (None | str):
            event_id (str):
            hash_ (str):
            index (int):
            kind (LedgerEntryKind):
            outcome (LedgerEntryOutcome):
            prev_hash (str):
            seats (int | None):
            ticket_id (None | str):
            type_ (LedgerEntryTypeType0 | None):
            user_id (None | str):
    """

    accepted_at: None | str
    event_id: str
    hash_: str
    index: int
    kind: LedgerEntryKind
    outcome: LedgerEntryOutcome
    prev_hash: str
    seats: int | None
    ticket_id: None | str
    type_: LedgerEntryTypeType0 | None
    user_id: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accepted_at: None | str
        accepted_at = self.accepted_at

        event_id = self.event_id

        hash_ = self.hash_

        index = self.index

        kind = self.kind.value

        outcome = self.outcome.to_dict()

        prev_hash = self.prev_hash

        seats: int | None
        seats = self.seats

        ticket_id: None | str
        ticket_id = self.ticket_id

        type_: None | str
        if isinstance(self.type_, LedgerEntryTypeType0):
            type_ = self.type_.value
        else:
            type_ = self.type_

        user_id: None | str
        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "acceptedAt": accepted_at,
                "eventId": event_id,
                "hash": hash_,
                "index": index,
                "kind": kind,
                "outcome": outcome,
                "prevHash": prev_hash,
                "seats": seats,
                "ticketId": ticket_id,
                "type": type_,
                "userId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.ledger_entry_outcome import LedgerEntryOutcome  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_accepted_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        accepted_at = _parse_accepted_at(d.pop("acceptedAt"))

        event_id = d.pop("eventId")

        hash_ = d.pop("hash")

        index = d.pop("index")

        kind = LedgerEntryKind(d.pop("kind"))

        outcome = LedgerEntryOutcome.from_dict(d.pop("outcome"))

        prev_hash = d.pop("prevHash")

        def _parse_seats(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        seats = _parse_seats(d.pop("seats"))

        def _parse_ticket_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ticket_id = _parse_ticket_id(d.pop("ticketId"))

        def _parse_type_(data: object) -> LedgerEntryTypeType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                type_type_0 = LedgerEntryTypeType0(data)

                return type_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LedgerEntryTypeType0 | None, data)

        type_ = _parse_type_(d.pop("type"))

        def _parse_user_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        user_id = _parse_user_id(d.pop("userId"))

        ledger_entry = cls(
            accepted_at=accepted_at,
            event_id=event_id,
            hash_=hash_,
            index=index,
            kind=kind,
            outcome=outcome,
            prev_hash=prev_hash,
            seats=seats,
            ticket_id=ticket_id,
            type_=type_,
            user_id=user_id,
        )

        ledger_entry.additional_properties = d
        return ledger_entry

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
