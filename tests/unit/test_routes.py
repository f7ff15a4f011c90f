"""Declaring an operation with `route`: what it registers, what it refuses, and what the
document derives from it (statuses that follow from the role and the body)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response
from pydantic import BaseModel

from api import openapi
from api.routes import Access, Attendee, Param, Reply, Resource, RouteTable, route

pytestmark = pytest.mark.unit

THING_ID = Param("thingId", "path", {"type": "string"}, "A thing.", True)


class Thing(BaseModel):
    name: str


def view() -> Response:
    return Response(status=204)


def test_a_declared_route_is_served_and_recorded_with_its_openapi_path() -> None:
    bp = Resource("things", __name__, tag="things")

    @route(
        bp,
        "GET",
        "/things/<thing_id>",
        operation_id="getThing",
        access=Access.CLIENT,
        summary="Get a thing",
        replies=(Reply(200, "The thing.", Thing),),
        params=(THING_ID,),
    )
    def get_thing(thing_id: str) -> Response:
        return Response(thing_id)

    app = Flask("test")
    app.register_blueprint(bp)

    [operation] = bp.operations
    assert (operation.endpoint, operation.path, operation.tag) == (
        "things.get_thing",
        "/things/{thingId}",
        "things",
    )
    assert app.test_client().get("/things/t1").get_data(as_text=True) == "t1"
    assert app.test_client().post("/things/t1").status_code == 405


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"operation_id": "get_thing"}, "camelCase"),
        ({"operation_id": "GetThing"}, "camelCase"),
        ({"params": ()}, "path parameters"),
        ({"params": (Param("id", "path", {}, "", True),)}, "path parameters"),
        ({"replies": ()}, "replies"),
    ],
)
def test_a_declaration_that_cannot_be_documented_fails_where_it_is_written(
    changes: dict[str, Any], complaint: str
) -> None:
    declaration: dict[str, Any] = {
        "operation_id": "getThing",
        "access": Access.CLIENT,
        "summary": "Get a thing",
        "replies": (Reply(200, "The thing.", Thing),),
        "params": (THING_ID,),
    }
    bp = Resource("things", __name__, tag="things")

    with pytest.raises(ValueError, match=complaint):
        route(bp, "GET", "/things/<thing_id>", **{**declaration, **changes})(view)
    assert bp.operations == []


def test_an_undocumented_route_needs_no_replies_and_no_parameters() -> None:
    bp = Resource("assets", __name__, tag="operations")

    route(
        bp,
        "GET",
        "/assets/<path:filename>",
        operation_id="getAsset",
        access=Access.PUBLIC,
        summary="Static files",
        documented=False,
    )(view)

    assert [op.path for op in bp.operations] == ["/assets/{filename}"]


def test_only_admin_operations_refuse_a_client_key() -> None:
    assert [level.admits("client") for level in Access] == [True, True, False]
    assert [level.admits("admin") for level in Access] == [True, True, True]


def _table(
    *declarations: tuple[str, str, Access] | tuple[str, str, Access, Attendee],
) -> RouteTable:
    bp = Resource("things", __name__, tag="things")
    for operation_id, rule, access, *attendee in declarations:

        def named() -> Response:
            return Response()

        named.__name__ = operation_id
        route(
            bp,
            "POST",
            rule,
            operation_id=operation_id,
            access=access,
            attendee=attendee[0] if attendee else None,
            summary="A thing",
            replies=(Reply(201, "The thing.", Thing),),
            body=Thing,
        )(named)
    return RouteTable.of([bp])


def test_two_operations_with_one_operation_id_are_refused() -> None:
    bp = Resource("things", __name__, tag="things")
    other = Resource("others", __name__, tag="things")
    for blueprint in (bp, other):
        route(
            blueprint,
            "GET",
            "/" + blueprint.name,
            operation_id="listThings",
            access=Access.CLIENT,
            summary="Things",
            replies=(Reply(200, "Them.", Thing, many=True),),
        )(view)

    with pytest.raises(ValueError, match="not unique"):
        RouteTable.of([bp, other])


def test_an_endpoint_nobody_declared_needs_a_key_of_either_role() -> None:
    table = _table(("createThing", "/things", Access.ADMIN))

    assert table.access("things.createThing") is Access.ADMIN
    assert table.access("boom") is Access.CLIENT
    assert table.access(None) is Access.CLIENT


def test_the_document_adds_the_statuses_that_follow_from_role_and_body() -> None:
    table = _table(
        ("createThing", "/things", Access.ADMIN),
        ("addThing", "/added", Access.CLIENT),
        ("addOwnThing", "/own", Access.CLIENT, Attendee.BODY_USER),
        ("addAnyThing", "/any", Access.CLIENT, Attendee.ANY),
        ("postThing", "/public", Access.PUBLIC),
    )

    paths = openapi.build(table.operations)["paths"]

    def statuses(path: str) -> list[str]:
        return sorted(status for status in paths[path]["post"]["responses"] if status != "201")

    assert statuses("/things") == ["401", "403", "413", "415", "422", "429", "500"]
    # A client operation can be 403 for an attendee token, unless any attendee may call it.
    assert statuses("/added") == ["401", "403", "413", "415", "422", "429", "500"]
    assert statuses("/own") == ["401", "403", "413", "415", "422", "429", "500"]
    assert statuses("/any") == ["401", "413", "415", "422", "429", "500"]
    assert "another user" in paths["/own"]["post"]["responses"]["403"]["description"]
    assert "may not make this call" in paths["/added"]["post"]["responses"]["403"]["description"]
    assert statuses("/public") == ["413", "415", "422", "500"]
    assert paths["/public"]["post"]["security"] == []
    assert paths["/things"]["post"]["description"] == "Needs an admin key."
    assert paths["/added"]["post"]["operationId"] == "addThing"
