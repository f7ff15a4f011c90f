from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.event_update_admission import EventUpdateAdmission
from ..models.event_update_opening import EventUpdateOpening
from ..models.event_update_promotion import EventUpdatePromotion
from ..models.event_update_waitlist_policy import EventUpdateWaitlistPolicy
from ..types import UNSET, Unset

T = TypeVar("T", bound="EventUpdate")


@_attrs_define
class EventUpdate:
    """Partial: only the fields given change. The id is the path's: `eventId` is no field
    here (an unknown field, so a 422, as the document says).

        Attributes:
            admission (EventUpdateAdmission | Unset):
            bypass_limit (int | Unset):
            capacity (int | Unset):
            date (datetime.date | Unset):
            description (str | Unset):
            location (str | Unset):
            max_party_size (int | Unset):
            offer_ttl_seconds (int | Unset):
            opening (EventUpdateOpening | Unset):
            organizer (str | Unset):
            prequeue_opens_at (datetime.datetime | None | Unset):
            promotion (EventUpdatePromotion | Unset):
            registration_closes_at (datetime.datetime | None | Unset):
            registration_opens_at (datetime.datetime | None | Unset):
            status (str | Unset):
            title (str | Unset):
            unregister_closes_at (datetime.datetime | None | Unset):
            waitlist_enabled (bool | Unset):
            waitlist_policy (EventUpdateWaitlistPolicy | Unset):
    """

    admission: EventUpdateAdmission | Unset = UNSET
    bypass_limit: int | Unset = UNSET
    capacity: int | Unset = UNSET
    date: datetime.date | Unset = UNSET
    description: str | Unset = UNSET
    location: str | Unset = UNSET
    max_party_size: int | Unset = UNSET
    offer_ttl_seconds: int | Unset = UNSET
    opening: EventUpdateOpening | Unset = UNSET
    organizer: str | Unset = UNSET
    prequeue_opens_at: datetime.datetime | None | Unset = UNSET
    promotion: EventUpdatePromotion | Unset = UNSET
    registration_closes_at: datetime.datetime | None | Unset = UNSET
    registration_opens_at: datetime.datetime | None | Unset = UNSET
    status: str | Unset = UNSET
    title: str | Unset = UNSET
    unregister_closes_at: datetime.datetime | None | Unset = UNSET
    waitlist_enabled: bool | Unset = UNSET
    waitlist_policy: EventUpdateWaitlistPolicy | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        admission: str | Unset = UNSET
        if not isinstance(self.admission, Unset):
            admission = self.admission.value

        bypass_limit = self.bypass_limit

        capacity = self.capacity

        date: str | Unset = UNSET
        if not isinstance(self.date, Unset):
            date = self.date.isoformat()

        description = self.description

        location = self.location

        max_party_size = self.max_party_size

        offer_ttl_seconds = self.offer_ttl_seconds

        opening: str | Unset = UNSET
        if not isinstance(self.opening, Unset):
            opening = self.opening.value

        organizer = self.organizer

        prequeue_opens_at: None | str | Unset
        if isinstance(self.prequeue_opens_at, Unset):
            prequeue_opens_at = UNSET
        elif isinstance(self.prequeue_opens_at, datetime.datetime):
            prequeue_opens_at = self.prequeue_opens_at.isoformat()
        else:
            prequeue_opens_at = self.prequeue_opens_at

        promotion: str | Unset = UNSET
        if not isinstance(self.promotion, Unset):
            promotion = self.promotion.value

        registration_closes_at: None | str | Unset
        if isinstance(self.registration_closes_at, Unset):
            registration_closes_at = UNSET
        elif isinstance(self.registration_closes_at, datetime.datetime):
            registration_closes_at = self.registration_closes_at.isoformat()
        else:
            registration_closes_at = self.registration_closes_at

        registration_opens_at: None | str | Unset
        if isinstance(self.registration_opens_at, Unset):
            registration_opens_at = UNSET
        elif isinstance(self.registration_opens_at, datetime.datetime):
            registration_opens_at = self.registration_opens_at.isoformat()
        else:
            registration_opens_at = self.registration_opens_at

        status = self.status

        title = self.title

        unregister_closes_at: None | str | Unset
        if isinstance(self.unregister_closes_at, Unset):
            unregister_closes_at = UNSET
        elif isinstance(self.unregister_closes_at, datetime.datetime):
            unregister_closes_at = self.unregister_closes_at.isoformat()
        else:
            unregister_closes_at = self.unregister_closes_at

        waitlist_enabled = self.waitlist_enabled

        waitlist_policy: str | Unset = UNSET
        if not isinstance(self.waitlist_policy, Unset):
            waitlist_policy = self.waitlist_policy.value

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if admission is not UNSET:
            field_dict["admission"] = admission
        if bypass_limit is not UNSET:
            field_dict["bypassLimit"] = bypass_limit
        if capacity is not UNSET:
            field_dict["capacity"] = capacity
        if date is not UNSET:
            field_dict["date"] = date
        if description is not UNSET:
            field_dict["description"] = description
        if location is not UNSET:
            field_dict["location"] = location
        if max_party_size is not UNSET:
            field_dict["maxPartySize"] = max_party_size
        if offer_ttl_seconds is not UNSET:
            field_dict["offerTtlSeconds"] = offer_ttl_seconds
        if opening is not UNSET:
            field_dict["opening"] = opening
        if organizer is not UNSET:
            field_dict["organizer"] = organizer
        if prequeue_opens_at is not UNSET:
            field_dict["prequeueOpensAt"] = prequeue_opens_at
        if promotion is not UNSET:
            field_dict["promotion"] = promotion
        if registration_closes_at is not UNSET:
            field_dict["registrationClosesAt"] = registration_closes_at
        if registration_opens_at is not UNSET:
            field_dict["registrationOpensAt"] = registration_opens_at
        if status is not UNSET:
            field_dict["status"] = status
        if title is not UNSET:
            field_dict["title"] = title
        if unregister_closes_at is not UNSET:
            field_dict["unregisterClosesAt"] = unregister_closes_at
        if waitlist_enabled is not UNSET:
            field_dict["waitlistEnabled"] = waitlist_enabled
        if waitlist_policy is not UNSET:
            field_dict["waitlistPolicy"] = waitlist_policy

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _admission = d.pop("admission", UNSET)
        admission: EventUpdateAdmission | Unset
        if isinstance(_admission, Unset):
            admission = UNSET
        else:
            admission = EventUpdateAdmission(_admission)

        bypass_limit = d.pop("bypassLimit", UNSET)

        capacity = d.pop("capacity", UNSET)

        _date = d.pop("date", UNSET)
        date: datetime.date | Unset
        if isinstance(_date, Unset):
            date = UNSET
        else:
            date = datetime.date.fromisoformat(_date)

        description = d.pop("description", UNSET)

        location = d.pop("location", UNSET)

        max_party_size = d.pop("maxPartySize", UNSET)

        offer_ttl_seconds = d.pop("offerTtlSeconds", UNSET)

        _opening = d.pop("opening", UNSET)
        opening: EventUpdateOpening | Unset
        if isinstance(_opening, Unset):
            opening = UNSET
        else:
            opening = EventUpdateOpening(_opening)

        organizer = d.pop("organizer", UNSET)

        def _parse_prequeue_opens_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                prequeue_opens_at_type_0 = datetime.datetime.fromisoformat(data)

                return prequeue_opens_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        prequeue_opens_at = _parse_prequeue_opens_at(d.pop("prequeueOpensAt", UNSET))

        _promotion = d.pop("promotion", UNSET)
        promotion: EventUpdatePromotion | Unset
        if isinstance(_promotion, Unset):
            promotion = UNSET
        else:
            promotion = EventUpdatePromotion(_promotion)

        def _parse_registration_closes_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                registration_closes_at_type_0 = datetime.datetime.fromisoformat(data)

                return registration_closes_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        registration_closes_at = _parse_registration_closes_at(d.pop("registrationClosesAt", UNSET))

        def _parse_registration_opens_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                registration_opens_at_type_0 = datetime.datetime.fromisoformat(data)

                return registration_opens_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        registration_opens_at = _parse_registration_opens_at(d.pop("registrationOpensAt", UNSET))

        status = d.pop("status", UNSET)

        title = d.pop("title", UNSET)

        def _parse_unregister_closes_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                unregister_closes_at_type_0 = datetime.datetime.fromisoformat(data)

                return unregister_closes_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        unregister_closes_at = _parse_unregister_closes_at(d.pop("unregisterClosesAt", UNSET))

        waitlist_enabled = d.pop("waitlistEnabled", UNSET)

        _waitlist_policy = d.pop("waitlistPolicy", UNSET)
        waitlist_policy: EventUpdateWaitlistPolicy | Unset
        if isinstance(_waitlist_policy, Unset):
            waitlist_policy = UNSET
        else:
            waitlist_policy = EventUpdateWaitlistPolicy(_waitlist_policy)

        event_update = cls(
            admission=admission,
            bypass_limit=bypass_limit,
            capacity=capacity,
            date=date,
            description=description,
            location=location,
            max_party_size=max_party_size,
            offer_ttl_seconds=offer_ttl_seconds,
            opening=opening,
            organizer=organizer,
            prequeue_opens_at=prequeue_opens_at,
            promotion=promotion,
            registration_closes_at=registration_closes_at,
            registration_opens_at=registration_opens_at,
            status=status,
            title=title,
            unregister_closes_at=unregister_closes_at,
            waitlist_enabled=waitlist_enabled,
            waitlist_policy=waitlist_policy,
        )

        return event_update
