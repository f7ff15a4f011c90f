"""Typed domain errors: bad input to the rules, refused changes, and missing things."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the rules raise on purpose. Raising one changes nothing."""

    code = "DOMAIN_ERROR"


class InvalidInput(DomainError):
    """A value breaks a rule of form: a blank or malformed id, a blank name, a bad date."""

    code = "VALIDATION_ERROR"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidCapacity(InvalidInput):
    def __init__(self, capacity: object) -> None:
        super().__init__("capacity", f"must be an integer of at least 1, got {capacity!r}")


class CapacityBelowRegistered(DomainError):
    code = "CAPACITY_BELOW_REGISTERED"

    def __init__(self, capacity: int, registered: int) -> None:
        super().__init__(f"capacity {capacity} is below the {registered} seats already taken")
        self.capacity = capacity
        self.registered = registered


class CapacityBelowPartySize(DomainError):
    code = "CAPACITY_BELOW_PARTY_SIZE"

    def __init__(self, capacity: int, max_party_size: int) -> None:
        super().__init__(
            f"capacity {capacity} is below the largest party allowed ({max_party_size} seats)"
        )
        self.capacity = capacity
        self.max_party_size = max_party_size


class DrawLocked(DomainError):
    code = "DRAW_LOCKED"

    def __init__(self, prequeue_opens_at: object) -> None:
        super().__init__(
            "the pre-queue opened at "
            f"{prequeue_opens_at}: opening, prequeueOpensAt and registrationOpensAt stay as they"
            " are until the draw is done"
        )


class UserNotFound(DomainError):
    code = "USER_NOT_FOUND"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"user {user_id!r} does not exist")
        self.user_id = user_id


class EventNotFound(DomainError):
    code = "EVENT_NOT_FOUND"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id!r} does not exist")
        self.event_id = event_id


class DuplicateUser(DomainError):
    code = "DUPLICATE_USER"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"user {user_id!r} already exists")
        self.user_id = user_id


class DuplicateEvent(DomainError):
    code = "DUPLICATE_EVENT"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id!r} already exists")
        self.event_id = event_id


class StateNotLoaded(RuntimeError):
    """The rules were asked about a user whose standing the caller did not load.

    A programming error in the loader, never a client's fault: it must not be turned into
    a denial, because that would decide a command on missing information.
    """


class IdempotencyKeyInFlight(DomainError):
    """A request with the same key is still being accepted: the client retries shortly."""

    code = "IDEMPOTENCY_KEY_IN_FLIGHT"
    retry_after_seconds = 1

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being accepted; retry shortly."
        )


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used with a different request.")


class WebhookNotFound(DomainError):
    """An unknown subscription, or a delivery that is not one of its deliveries."""

    code = "WEBHOOK_NOT_FOUND"

    def __init__(self, webhook_id: str, delivery_id: str | None = None) -> None:
        if delivery_id is None:
            super().__init__(f"webhook {webhook_id!r} does not exist")
        else:
            super().__init__(f"webhook {webhook_id!r} has no delivery {delivery_id!r}")
        self.webhook_id = webhook_id
        self.delivery_id = delivery_id


class KeyNotFound(DomainError):
    """An API key id that names no key made at run time (configured keys have no id)."""

    code = "KEY_NOT_FOUND"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id!r} does not exist")
        self.key_id = key_id
