from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.denial_code import DenialCode
from ..models.result_status import ResultStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.offer_made import OfferMade


T = TypeVar("T", bound="TicketResult")


@_attrs_define
class TicketResult:
    """
    Attributes:
        code (DenialCode | None):
        message (str):
        offered_user_ids (list[str]): every party offered seats by it
        offers (list[OfferMade]): the offers made, with their seats and end
        position (int | None):
        promoted_user_id (None | str): the first of promotedUserIds
        promoted_user_ids (list[str]): every party seated by the settling
        status (ResultStatus):
        ledger_hash (None | str | Unset): that entry's hash
        ledger_index (int | None | Unset): this ticket's entry in the event's ledger
    """

    code: DenialCode | None
    message: str
    offered_user_ids: list[str]
    offers: list[OfferMade]
    position: int | None
    promoted_user_id: None | str
    promoted_user_ids: list[str]
    status: ResultStatus
    ledger_hash: None | str | Unset = UNSET
    ledger_index: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code: None | str
        if isinstance(self.code, DenialCode):
            code = self.code.value
        else:
            code = self.code

        message = self.message

        offered_user_ids = self.offered_user_ids

        offers = []
        for offers_item_data in self.offers:
            offers_item = offers_item_data.to_dict()
            offers.append(offers_item)

        position: int | None
        position = self.position

        promoted_user_id: None | str
        promoted_user_id = self.promoted_user_id

        promoted_user_ids = self.promoted_user_ids

        status = self.status.value

        ledger_hash: None | str | Unset
        if isinstance(self.ledger_hash, Unset):
            ledger_hash = UNSET
        else:
            ledger_hash = self.ledger_hash

        ledger_index: int | None | Unset
        if isinstance(self.ledger_index, Unset):
            ledger_index = UNSET
        else:
            ledger_index = self.ledger_index

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "offeredUserIds": offered_user_ids,
                "offers": offers,
                "position": position,
                "promotedUserId": promoted_user_id,
                "promotedUserIds": promoted_user_ids,
                "status": status,
            }
        )
        if ledger_hash is not UNSET:
            field_dict["ledgerHash"] = ledger_hash
        if ledger_index is not UNSET:
            field_dict["ledgerIndex"] = ledger_index

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.offer_made import OfferMade  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_code(data: object) -> DenialCode | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                code_type_0 = DenialCode(data)

                return code_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DenialCode | None, data)

        code = _parse_code(d.pop("code"))

        message = d.pop("message")

        offered_user_ids = cast(list[str], d.pop("offeredUserIds"))

        offers = []
        _offers = d.pop("offers")
        for offers_item_data in _offers:
            offers_item = OfferMade.from_dict(offers_item_data)

            offers.append(offers_item)

        def _parse_position(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        position = _parse_position(d.pop("position"))

        def _parse_promoted_user_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        promoted_user_id = _parse_promoted_user_id(d.pop("promotedUserId"))

        promoted_user_ids = cast(list[str], d.pop("promotedUserIds"))

        status = ResultStatus(d.pop("status"))

        def _parse_ledger_hash(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ledger_hash = _parse_ledger_hash(d.pop("ledgerHash", UNSET))

        def _parse_ledger_index(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        ledger_index = _parse_ledger_index(d.pop("ledgerIndex", UNSET))

        ticket_result = cls(
            code=code,
            message=message,
            offered_user_ids=offered_user_ids,
            offers=offers,
            position=position,
            promoted_user_id=promoted_user_id,
            promoted_user_ids=promoted_user_ids,
            status=status,
            ledger_hash=ledger_hash,
            ledger_index=ledger_index,
        )

        ticket_result.additional_properties = d
        return ticket_result

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
