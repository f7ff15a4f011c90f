from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_admission import EventAdmission
from ..models.event_opening import EventOpening
from ..models.event_promotion import EventPromotion
from ..models.event_waitlist_policy import EventWaitlistPolicy

T = TypeVar("T", bound="Event")


@_attrs_define
class Event:
    """
    Attributes:
        admission (EventAdmission):
        application_count (int): pending applications (admission approval)
        available_spots (int): capacity - registeredSeats - offeredSeats
        bypass_limit (int):
        capacity (int):
        created_at (datetime.datetime):
        date (datetime.date):
        description (str):
        draw_commitment (None | str):
        drawn_at (datetime.datetime | None):
        event_id (str):
        location (str):
        max_party_size (int):
        offer_ttl_seconds (int):
        offered_seats (int): seats held by open offers
        opening (EventOpening):
        organizer (str):
        prequeue_opens_at (datetime.datetime | None):
        prequeued_count (int): parties in the pre-queue, waiting for the draw
        promotion (EventPromotion):
        registered_count (int): seated registrations (parties)
        registered_seats (int): seats the seated parties take
        registration_closes_at (datetime.datetime | None):
        registration_opens_at (datetime.datetime | None):
        status (str):
        title (str):
        unregister_closes_at (datetime.datetime | None):
        updated_at (datetime.datetime):
        waitlist_count (int): waiting parties
        waitlist_enabled (bool):
        waitlist_policy (EventWaitlistPolicy):
        waitlist_seats (int): seats the waiting parties ask for
    """

    admission: EventAdmission
    application_count: int
    available_spots: int
    bypass_limit: int
    capacity: int
    created_at: datetime.datetime
    date: datetime.date
    description: str
    draw_commitment: None | str
    drawn_at: datetime.datetime | None
    event_id: str
    location: str
    max_party_size: int
    offer_ttl_seconds: int
    offered_seats: int
    opening: EventOpening
    organizer: str
    prequeue_opens_at: datetime.datetime | None
    prequeued_count: int
    promotion: EventPromotion
    registered_count: int
    registered_seats: int
    registration_closes_at: datetime.datetime | None
    registration_opens_at: datetime.datetime | None
    status: str
    title: str
    unregister_closes_at: datetime.datetime | None
    updated_at: datetime.datetime
    waitlist_count: int
    waitlist_enabled: bool
    waitlist_policy: EventWaitlistPolicy
    waitlist_seats: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        admission = self.admission.value

        application_count = self.application_count

        available_spots = self.available_spots

        bypass_limit = self.bypass_limit

        capacity = self.capacity

        created_at = self.created_at.isoformat()

        date = self.date.isoformat()

        description = self.description

        draw_commitment: None | str
        draw_commitment = self.draw_commitment

        drawn_at: None | str
        if isinstance(self.drawn_at, datetime.datetime):
            drawn_at = self.drawn_at.isoformat()
        else:
            drawn_at = self.drawn_at

        event_id = self.event_id

        location = self.location

        max_party_size = self.max_party_size

        offer_ttl_seconds = self.offer_ttl_seconds

        offered_seats = self.offered_seats

        opening = self.opening.value

        organizer = self.organizer

        prequeue_opens_at: None | str
        if isinstance(self.prequeue_opens_at, datetime.datetime):
            prequeue_opens_at = self.prequeue_opens_at.isoformat()
        else:
            prequeue_opens_at = self.prequeue_opens_at

        prequeued_count = self.prequeued_count

        promotion = self.promotion.value

        registered_count = self.registered_count

        registered_seats = self.registered_seats

        registration_closes_at: None | str
        if isinstance(self.registration_closes_at, datetime.datetime):
            registration_closes_at = self.registration_closes_at.isoformat()
        else:
            registration_closes_at = self.registration_closes_at

        registration_opens_at: None | str
        if isinstance(self.registration_opens_at, datetime.datetime):
            registration_opens_at = self.registration_opens_at.isoformat()
        else:
            registration_opens_at = self.registration_opens_at

        status = self.status

        title = self.title

        unregister_closes_at: None | str
        if isinstance(self.unregister_closes_at, datetime.datetime):
            unregister_closes_at = self.unregister_closes_at.isoformat()
        else:
            unregister_closes_at = self.unregister_closes_at

        updated_at = self.updated_at.isoformat()

        waitlist_count = self.waitlist_count

        waitlist_enabled = self.waitlist_enabled

        waitlist_policy = self.waitlist_policy.value

        waitlist_seats = self.waitlist_seats

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "admission": admission,
                "applicationCount": application_count,
                "availableSpots": available_spots,
                "bypassLimit": bypass_limit,
                "capacity": capacity,
                "createdAt": created_at,
                "date": date,
                "description": description,
                "drawCommitment": draw_commitment,
                "drawnAt": drawn_at,
                "eventId": event_id,
                "location": location,
                "maxPartySize": max_party_size,
                "offerTtlSeconds": offer_ttl_seconds,
                "offeredSeats": offered_seats,
                "opening": opening,
                "organizer": organizer,
                "prequeueOpensAt": prequeue_opens_at,
                "prequeuedCount": prequeued_count,
                "promotion": promotion,
                "registeredCount": registered_count,
                "registeredSeats": registered_seats,
                "registrationClosesAt": registration_closes_at,
                "registrationOpensAt": registration_opens_at,
                "status": status,
                "title": title,
                "unregisterClosesAt": unregister_closes_at,
                "updatedAt": updated_at,
                "waitlistCount": waitlist_count,
                "waitlistEnabled": waitlist_enabled,
                "waitlistPolicy": waitlist_policy,
                "waitlistSeats": waitlist_seats,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        admission = EventAdmission(d.pop("admission"))

        application_count = d.pop("applicationCount")

        available_spots = d.pop("availableSpots")

        bypass_limit = d.pop("bypassLimit")

        capacity = d.pop("capacity")

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        date = datetime.date.fromisoformat(d.pop("date"))

        description = d.pop("description")

        def _parse_draw_commitment(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        draw_commitment = _parse_draw_commitment(d.pop("drawCommitment"))

        def _parse_drawn_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                drawn_at_type_0 = datetime.datetime.fromisoformat(data)

                return drawn_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        drawn_at = _parse_drawn_at(d.pop("drawnAt"))

        event_id = d.pop("eventId")

        location = d.pop("location")

        max_party_size = d.pop("maxPartySize")

        offer_ttl_seconds = d.pop("offerTtlSeconds")

        offered_seats = d.pop("offeredSeats")

        opening = EventOpening(d.pop("opening"))

        organizer = d.pop("organizer")

        def _parse_prequeue_opens_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                prequeue_opens_at_type_0 = datetime.datetime.fromisoformat(data)

                return prequeue_opens_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        prequeue_opens_at = _parse_prequeue_opens_at(d.pop("prequeueOpensAt"))

        prequeued_count = d.pop("prequeuedCount")

        promotion = EventPromotion(d.pop("promotion"))

        registered_count = d.pop("registeredCount")

        registered_seats = d.pop("registeredSeats")

        def _parse_registration_closes_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                registration_closes_at_type_0 = datetime.datetime.fromisoformat(data)

                return registration_closes_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        registration_closes_at = _parse_registration_closes_at(d.pop("registrationClosesAt"))

        def _parse_registration_opens_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                registration_opens_at_type_0 = datetime.datetime.fromisoformat(data)

                return registration_opens_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        registration_opens_at = _parse_registration_opens_at(d.pop("registrationOpensAt"))

        status = d.pop("status")

        title = d.pop("title")

        def _parse_unregister_closes_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                unregister_closes_at_type_0 = datetime.datetime.fromisoformat(data)

                return unregister_closes_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        unregister_closes_at = _parse_unregister_closes_at(d.pop("unregisterClosesAt"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updatedAt"))

        waitlist_count = d.pop("waitlistCount")

        waitlist_enabled = d.pop("waitlistEnabled")

        waitlist_policy = EventWaitlistPolicy(d.pop("waitlistPolicy"))

        waitlist_seats = d.pop("waitlistSeats")

        event = cls(
            admission=admission,
            application_count=application_count,
            available_spots=available_spots,
            bypass_limit=bypass_limit,
            capacity=capacity,
            created_at=created_at,
            date=date,
            description=description,
            draw_commitment=draw_commitment,
            drawn_at=drawn_at,
            event_id=event_id,
            location=location,
            max_party_size=max_party_size,
            offer_ttl_seconds=offer_ttl_seconds,
            offered_seats=offered_seats,
            opening=opening,
            organizer=organizer,
            prequeue_opens_at=prequeue_opens_at,
            prequeued_count=prequeued_count,
            promotion=promotion,
            registered_count=registered_count,
            registered_seats=registered_seats,
            registration_closes_at=registration_closes_at,
            registration_opens_at=registration_opens_at,
            status=status,
            title=title,
            unregister_closes_at=unregister_closes_at,
            updated_at=updated_at,
            waitlist_count=waitlist_count,
            waitlist_enabled=waitlist_enabled,
            waitlist_policy=waitlist_policy,
            waitlist_seats=waitlist_seats,
        )

        event.additional_properties = d
        return event

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
