"""Every event setting, declared once: its column, JSON name, type, bounds, default and whether
`event_created`'s settings carry it (pure, no I/O).

Storage columns, request and response schemas, the rules' judging of an update, the ledger's
settings object, replay and the console read this table instead of restating a setting (the way
pretix's settings `DEFAULTS` works). Adding a setting: a `Setting` here, the field in
`EventSeats`/`Reconfigure` and the rule that uses it, a column and its migration
(docs/ARCHITECTURE.md lists the places).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.domain.errors import InvalidCapacity, InvalidInput

MAX_PARTY_SEATS = 50
MAX_BYPASS_LIMIT = 100
MIN_OFFER_TTL_SECONDS = 5
MAX_OFFER_TTL_SECONDS = 604_800
# PostgreSQL's INTEGER: a larger capacity could not be stored (and no venue needs it).
MAX_CAPACITY = 2_147_483_647


class Policy(enum.StrEnum):
    """Who gets freed seats: `strict` seats the head of the line or nobody; `fill` seats any
    party that fits, unless an earlier waiting party was passed over `bypass_limit` times."""

    STRICT = "strict"
    FILL = "fill"


class Promotion(enum.StrEnum):
    """What settling does for a party the policy lets in: seat it, or offer it the seats."""

    AUTOMATIC = "automatic"
    OFFER = "offer"


# --- approval (#23) ---
class Admission(enum.StrEnum):
    """Whether a register takes its place at once (`open`) or applies and waits for an admin's
    approval (`approval`), keeping the place its acceptance time gives it."""

    OPEN = "open"
    APPROVAL = "approval"


# --- end approval ---
# --- the on-sale draw (#24) ---------------------------------------------------------------
class Opening(enum.StrEnum):
    """How registration opens: first come, first served, or a draw of the pre-queue."""

    FIFO = "fifo"
    DRAW = "draw"


# ---------------------------------------------------------------------------------------------


class Unchanged(enum.Enum):
    """A setting an update leaves as it is (None is a value there: "no window")."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


class Kind(enum.StrEnum):
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    MOMENT = "moment"  # an aware timestamp or null ("none")
    DIGEST = "digest"  # a lowercase hex SHA-256 or null, set by the server (the draw's commitment)


@dataclass(frozen=True)
class Setting:
    """One event setting. `column` is also the API's snake_case field name (the JSON name is
    its camelCase); `attr` is what `EventSeats` and `Reconfigure` call it. `label` and `hint`
    are the console's."""

    column: str
    attr: str
    kind: Kind
    default: object
    label: str
    low: int | None = None
    high: int | None = None
    choices: type[enum.StrEnum] | None = None
    in_ledger: bool = True  # part of `event_created`'s settings (and so of `event_updated`)
    # Added after ledgers were first written: an `event_created` that lacks it means its default.
    ledger_optional: bool = False
    hint: str | None = None
    # False: the server's to set (the draw's commitment, when it was drawn), shown but never
    # accepted in a request body nor offered by the console's form.
    settable: bool = True

    @property
    def json(self) -> str:
        head, *rest = self.column.split("_")
        return head + "".join(part.title() for part in rest)

    @property
    def nullable(self) -> bool:
        return self.kind in {Kind.MOMENT, Kind.DIGEST}

    @property
    def unchanged(self) -> object:
        """What a `Reconfigure` field holds when the update leaves this setting alone."""
        return UNCHANGED if self.nullable else None

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(self.choices) if self.choices is not None else ()

    def judge(self, value: object) -> object:
        """A new value as the rules hold it, or InvalidInput naming the setting's JSON name."""
        match self.kind:
            case Kind.INTEGER:
                if self.column == "capacity":  # its own error (CAPACITY_* codes are about it)
                    if not _is_int(value) or value < 1:  # type: ignore[operator]
                        raise InvalidCapacity(value)
                    return value
                assert self.low is not None
                assert self.high is not None
                if not _is_int(value) or not self.low <= value <= self.high:  # type: ignore[operator]
                    raise InvalidInput(
                        self.json, f"must be an integer from {self.low} to {self.high}"
                    )
                return value
            case Kind.BOOLEAN:
                return bool(value)
            case Kind.CHOICE:
                assert self.choices is not None
                return self.choices(str(value))
            case Kind.MOMENT | Kind.DIGEST:
                return value
        raise AssertionError(self.kind)

    def plain(self, value: object) -> object:
        """As a column and the API hold it: a choice by its value (moments stay datetimes)."""
        return value.value if isinstance(value, enum.Enum) else value

    def parse(self, value: object) -> object:
        """From a column or a validated request to what the rules hold."""
        if self.choices is not None and value is not None:
            return self.choices(str(value))
        return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


SETTINGS: tuple[Setting, ...] = (
    Setting("capacity", "capacity", Kind.INTEGER, None, "Capacity", low=1, high=MAX_CAPACITY),
    Setting("waitlist_enabled", "waitlist_enabled", Kind.BOOLEAN, False, "Waitlist enabled"),
    Setting(
        "max_party_size",
        "max_party_size",
        Kind.INTEGER,
        1,
        "Largest party (seats)",
        low=1,
        high=MAX_PARTY_SEATS,
    ),
    Setting(
        "waitlist_policy",
        "policy",
        Kind.CHOICE,
        Policy.STRICT,
        "Waitlist policy",
        choices=Policy,
        hint="strict: the head of the line first; fill: later parties that fit may pass.",
    ),
    Setting(
        "bypass_limit",
        "bypass_limit",
        Kind.INTEGER,
        3,
        "Pass-over limit (fill)",
        low=0,
        high=MAX_BYPASS_LIMIT,
    ),
    Setting(
        "promotion",
        "promotion",
        Kind.CHOICE,
        Promotion.AUTOMATIC,
        "Promotion",
        choices=Promotion,
        hint="automatic seats at once; offer holds the seats until accepted or expired.",
    ),
    Setting(
        "offer_ttl_seconds",
        "offer_ttl_seconds",
        Kind.INTEGER,
        3600,
        "Offer lifetime (seconds)",
        low=MIN_OFFER_TTL_SECONDS,
        high=MAX_OFFER_TTL_SECONDS,
    ),
    Setting(
        "registration_opens_at",
        "registration_opens_at",
        Kind.MOMENT,
        None,
        "Registration opens at",
        hint="RFC 3339, e.g. 2026-12-01T09:00:00Z; empty for none.",
    ),
    Setting(
        "registration_closes_at",
        "registration_closes_at",
        Kind.MOMENT,
        None,
        "Registration closes at",
        hint="RFC 3339; empty for none.",
    ),
    Setting(
        "unregister_closes_at",
        "unregister_closes_at",
        Kind.MOMENT,
        None,
        "Unregistering closes at",
        hint="RFC 3339; empty for none.",
    ),
    # --- approval (#23) ---
    Setting(
        "admission",
        "admission",
        Kind.CHOICE,
        Admission.OPEN,
        "Admission",
        choices=Admission,
        ledger_optional=True,
        hint="open: registers take their place at once; approval: they apply, an admin decides.",
    ),
    # --- end approval ---
    # --- the on-sale draw (#24) ---
    Setting(
        "opening",
        "opening",
        Kind.CHOICE,
        Opening.FIFO,
        "Opening",
        choices=Opening,
        hint="fifo: first come, first served; draw: the pre-queue is drawn at the opening.",
        ledger_optional=True,
    ),
    Setting(
        "prequeue_opens_at",
        "prequeue_opens_at",
        Kind.MOMENT,
        None,
        "Pre-queue opens at",
        hint="RFC 3339; a draw needs it before registration opens.",
        ledger_optional=True,
    ),
    Setting(
        "draw_commitment",
        "draw_commitment",
        Kind.DIGEST,
        None,
        "Draw commitment",
        settable=False,
        ledger_optional=True,
    ),
    Setting(
        "drawn_at",
        "drawn_at",
        Kind.MOMENT,
        None,
        "Drawn at",
        in_ledger=False,  # the draw's own entry says it happened
        settable=False,
    ),
)
BY_COLUMN = {setting.column: setting for setting in SETTINGS}
BY_JSON = {setting.json: setting for setting in SETTINGS}
LEDGER_SETTINGS = tuple(setting for setting in SETTINGS if setting.in_ledger)
SETTABLE = tuple(setting for setting in SETTINGS if setting.settable)


def rules_arguments(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The settings among an event's fields (by column name) as the rules name and hold them."""
    return {BY_COLUMN[k].attr: BY_COLUMN[k].parse(v) for k, v in fields.items() if k in BY_COLUMN}


def console_fields() -> list[dict[str, object]]:
    """What the console's settings form needs of each setting, in form order."""
    return [
        {
            "name": setting.json,
            "label": setting.label,
            "kind": "time" if setting.kind is Kind.MOMENT else str(setting.kind),
            **({"choices": list(setting.values)} if setting.choices is not None else {}),
            **({"hint": setting.hint} if setting.hint is not None else {}),
        }
        for setting in SETTABLE
    ]
