from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.event_create_admission import EventCreateAdmission
from ..models.event_create_opening import EventCreateOpening
from ..models.event_create_promotion import EventCreatePromotion
from ..models.event_create_waitlist_policy import EventCreateWaitlistPolicy
from ..types import UNSET, Unset

T = TypeVar("T", bound="EventCreate")


@_attrs_define
class EventCreate:
    """
    Attributes:
        capacity (int):
        date (datetime.date):
        description (str):
        location (str):
        organizer (str):
        status (str):
        title (str):
        admission (EventCreateAdmission | Unset):  Default: EventCreateAdmission.OPEN.
        bypass_limit (int | Unset):  Default: 3.
        event_id (str | Unset):
        max_party_size (int | Unset):  Default: 1.
        offer_ttl_seconds (int | Unset):  Default: 3600.
        opening (EventCreateOpening | Unset):  Default: EventCreateOpening.FIFO.
        prequeue_opens_at (datetime.datetime | None | Unset):
        promotion (EventCreatePromotion | Unset):  Default: EventCreatePromotion.AUTOMATIC.
        registration_closes_at (datetime.datetime | None | Unset):
        registration_opens_at (datetime.datetime | None | Unset):
        unregister_closes_at (datetime.datetime | None | Unset):
        waitlist_enabled (bool | Unset):  Default: False.
        waitlist_policy (EventCreateWaitlistPolicy | Unset):  Default: EventCreateWaitlistPolicy.STRICT.
    """

    capacity: int
    date: datetime.date
    description: str
    location: str
    organizer: str
    status: str
    title: str
    admission: EventCreateAdmission | Unset = EventCreateAdmission.OPEN
    bypass_limit: int | Unset = 3
    event_id: str | Unset = UNSET
    max_party_size: int | Unset = 1
    offer_ttl_seconds: int | Unset = 3600
    opening: EventCreateOpening | Unset = EventCreateOpening.FIFO
    prequeue_opens_at: datetime.datetime | None | Unset = UNSET
    promotion: EventCreatePromotion | Unset = EventCreatePromotion.AUTOMATIC
    registration_closes_at: datetime.datetime | None | Unset = UNSET
    registration_opens_at: datetime.datetime | None | Unset = UNSET
    unregister_closes_at: datetime.datetime | None | Unset = UNSET
    waitlist_enabled: bool | Unset = False
    waitlist_policy: EventCreateWaitlistPolicy | Unset = EventCreateWaitlistPolicy.STRICT

    def to_dict(self) -> dict[str, Any]:
        capacity = self.capacity

        date = self.date.isoformat()

        description = self.description

        location = self.location

        organizer = self.organizer

        status = self.status

        title = self.title

        admission: str | Unset = UNSET
        if not isinstance(self.admission, Unset):
            admission = self.admission.value

        bypass_limit = self.bypass_limit

        event_id = self.event_id

        max_party_size = self.max_party_size

        offer_ttl_seconds = self.offer_ttl_seconds

        opening: str | Unset = UNSET
        if not isinstance(self.opening, Unset):
            opening = self.opening.value

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

        field_dict.update(
            {
                "capacity": capacity,
                "date": date,
                "description": description,
                "location": location,
                "organizer": organizer,
                "status": status,
                "title": title,
            }
        )
        if admission is not UNSET:
            field_dict["admission"] = admission
        if bypass_limit is not UNSET:
            field_dict["bypassLimit"] = bypass_limit
        if event_id is not UNSET:
            field_dict["eventId"] = event_id
        if max_party_size is not UNSET:
            field_dict["maxPartySize"] = max_party_size
        if offer_ttl_seconds is not UNSET:
            field_dict["offerTtlSeconds"] = offer_ttl_seconds
        if opening is not UNSET:
            field_dict["opening"] = opening
        if prequeue_opens_at is not UNSET:
            field_dict["prequeueOpensAt"] = prequeue_opens_at
        if promotion is not UNSET:
            field_dict["promotion"] = promotion
        if registration_closes_at is not UNSET:
            field_dict["registrationClosesAt"] = registration_closes_at
        if registration_opens_at is not UNSET:
            field_dict["registrationOpensAt"] = registration_opens_at
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
        capacity = d.pop("capacity")

        date = datetime.date.fromisoformat(d.pop("date"))

        description = d.pop("description")

        location = d.pop("location")

        organizer = d.pop("organizer")

        status = d.pop("status")

        title = d.pop("title")

        _admission = d.pop("admission", UNSET)
        admission: EventCreateAdmission | Unset
        if isinstance(_admission, Unset):
            admission = UNSET
        else:
            admission = EventCreateAdmission(_admission)

        bypass_limit = d.pop("bypassLimit", UNSET)

        event_id = d.pop("eventId", UNSET)

        max_party_size = d.pop("maxPartySize", UNSET)

        offer_ttl_seconds = d.pop("offerTtlSeconds", UNSET)

        _opening = d.pop("opening", UNSET)
        opening: EventCreateOpening | Unset
        if isinstance(_opening, Unset):
            opening = UNSET
        else:
            opening = EventCreateOpening(_opening)

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
        promotion: EventCreatePromotion | Unset
        if isinstance(_promotion, Unset):
            promotion = UNSET
        else:
            promotion = EventCreatePromotion(_promotion)

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
        waitlist_policy: EventCreateWaitlistPolicy | Unset
        if isinstance(_waitlist_policy, Unset):
            waitlist_policy = UNSET
        else:
            waitlist_policy = EventCreateWaitlistPolicy(_waitlist_policy)

        event_create = cls(
            capacity=capacity,
            date=date,
            description=description,
            location=location,
            organizer=organizer,
            status=status,
            title=title,
            admission=admission,
            bypass_limit=bypass_limit,
            event_id=event_id,
            max_party_size=max_party_size,
            offer_ttl_seconds=offer_ttl_seconds,
            opening=opening,
            prequeue_opens_at=prequeue_opens_at,
            promotion=promotion,
            registration_closes_at=registration_closes_at,
            registration_opens_at=registration_opens_at,
            unregister_closes_at=unregister_closes_at,
            waitlist_enabled=waitlist_enabled,
            waitlist_policy=waitlist_policy,
        )

        return event_create
