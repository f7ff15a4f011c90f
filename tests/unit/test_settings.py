"""The event settings' declaration (`models.domain.settings`) as a table: every place that derives
from
it agrees with it, and every bound it states is the one the rules judge."""

from __future__ import annotations

import dataclasses

import pytest

from api import schemas
from models.domain import ledger
from models.domain.errors import InvalidCapacity, InvalidInput
from models.domain.rules import EventSeats, Reconfigure
from models.domain.settings import BY_COLUMN, SETTABLE, SETTINGS, Kind, Setting
from models.storage.tables import Event

pytestmark = pytest.mark.unit

INTEGERS = [s for s in SETTINGS if s.kind is Kind.INTEGER and s.column != "capacity"]


def test_every_setting_is_a_field_of_the_rules_state_and_of_an_update() -> None:
    seat_fields = {f.name for f in dataclasses.fields(EventSeats)}
    assert {s.attr for s in SETTINGS} <= seat_fields
    assert [f.name for f in dataclasses.fields(Reconfigure)] == [s.attr for s in SETTINGS]


def test_every_setting_has_a_column_with_its_default_and_nullability() -> None:
    columns = Event.__table__.c
    for setting in SETTINGS:
        column = columns[setting.column]
        assert column.nullable == setting.nullable, setting.column
        if setting.default is None:
            assert column.server_default is None, setting.column
        else:
            declared = str(setting.plain(setting.default)).lower()
            stored = str(column.server_default.arg).lower()  # type: ignore[union-attr]
            assert stored == declared, setting.column


def test_a_new_event_holds_every_default() -> None:
    seats = EventSeats.empty(5)
    for setting in SETTINGS:
        if setting.column != "capacity":
            assert getattr(seats, setting.attr) == setting.default, setting.column


def test_the_ledger_settings_are_the_declared_ones_by_json_name() -> None:
    assert tuple(s.json for s in SETTINGS if s.in_ledger) == ledger.SETTING_FIELDS
    assert list(ledger.settings_json(EventSeats.empty(5))) == list(ledger.SETTING_FIELDS)


@pytest.mark.parametrize("setting", INTEGERS, ids=lambda s: s.column)
def test_the_rules_judge_an_integer_setting_by_its_declared_bounds(setting: Setting) -> None:
    assert setting.low is not None
    assert setting.high is not None
    for good in (setting.low, setting.high):
        assert setting.judge(good) == good
    for bad in (setting.low - 1, setting.high + 1, True, 2.5, "3"):
        with pytest.raises(InvalidInput) as refused:
            setting.judge(bad)
        assert refused.value.field == setting.json


def test_a_capacity_below_one_is_its_own_error() -> None:
    with pytest.raises(InvalidCapacity):
        BY_COLUMN["capacity"].judge(0)


@pytest.mark.parametrize("setting", SETTABLE, ids=lambda s: s.column)
def test_the_request_schemas_state_the_declared_type_and_bounds(setting: Setting) -> None:
    for model in (schemas.EventCreate, schemas.EventUpdate):
        shown = model.model_json_schema(by_alias=True)["properties"][setting.json]
        match setting.kind:
            case Kind.INTEGER:
                assert (shown["minimum"], shown["maximum"]) == (setting.low, setting.high)
            case Kind.CHOICE:
                assert shown["enum"] == list(setting.values)
            case Kind.BOOLEAN:
                assert shown["type"] == "boolean"
            case Kind.MOMENT:
                assert shown["type"] == ["string", "null"]
    create = schemas.EventCreate.model_json_schema(by_alias=True)
    if setting.default is None and not setting.nullable:
        assert setting.json in create["required"]
    else:
        assert create["properties"][setting.json].get("default") == setting.plain(setting.default)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if not s.settable], ids=lambda s: s.column)
def test_a_setting_the_server_sets_is_shown_but_never_accepted(setting: Setting) -> None:
    for model in (schemas.EventCreate, schemas.EventUpdate):
        assert setting.json not in model.model_json_schema(by_alias=True)["properties"]
    assert setting.json in schemas.Event.model_json_schema(by_alias=True)["properties"]
