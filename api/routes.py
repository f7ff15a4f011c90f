"""The route table: each operation is declared once, at its view, with `route`.

A declaration names the method, the Flask rule, the operationId, who may call it, its request
and response schemas and the statuses it can answer. `route` registers the Flask rule and
records the operation on its blueprint (a `Resource`); the OpenAPI document (`api.openapi`),
authentication and roles (`api.auth`) and the rate limiter's exemptions read the `RouteTable`
built from those records, so none of them restates a route.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Blueprint, Flask
from pydantic import BaseModel

JSON = "application/json"

Method = Literal["GET", "POST", "PUT", "DELETE"]
Location = Literal["path", "query", "header"]
View = TypeVar("View", bound=Callable[..., Any])

OPERATION_ID = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")
_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


class Access(enum.Enum):
    """Who may call an operation, by the role of the key that authenticates the request.

    Attendees (a JWT acting for exactly one userId, CONTRACT.md "Attendee tokens") are not a
    level of this scale but a narrower grant on some client operations: `route`'s `attendee`
    field (`Attendee`), read by `api.principals` beside `access`.
    """

    PUBLIC = "public"  # no key needed: probes, the document, the console's static files
    CLIENT = "client"  # any known key
    ADMIN = "admin"  # admin keys only

    def admits(self, role: str) -> bool:
        return self is not Access.ADMIN or role == "admin"


class Attendee(enum.Enum):
    """Which attendee may make a call. An operation that names none is 403 for every attendee,
    so a route added later stays closed to attendees until its declaration says otherwise."""

    ANY = "any attendee"  # the view shows it only what is its own (tickets) or public (events)
    PATH_USER = "the user in the path"
    BODY_USER = "the body's userId, or no userId (meaning its own)"


@dataclass(frozen=True)
class Param:
    """A parameter in the document: where it is, its JSON Schema and what it means."""

    name: str
    where: Location
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """A success response: a model (or a list of it), or a raw media type."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    many: bool = False
    media: str = JSON
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One route as declared: what the document says and what authorization reads."""

    method: Method
    rule: str  # the Flask rule, e.g. /events/<event_id>/registrations
    endpoint: str  # the Flask endpoint, blueprint.view
    operation_id: str
    access: Access
    summary: str
    tag: str
    attendee: Attendee | None = None  # which attendee may call it; None: no attendee
    replies: tuple[Reply, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    params: tuple[Param, ...] = ()
    # Statuses of this operation's own failures; those that follow from `access` (401, 403,
    # 429) and from having a body (413, 415, 422) are added by the document, not declared.
    errors: tuple[int, ...] = ()
    # What an error status means here, where the generic description is not enough.
    error_notes: Mapping[int, str] = field(default_factory=dict)
    notes: str = ""
    # Served but left out of the document (static assets, a redirect).
    documented: bool = True

    @property
    def path(self) -> str:
        """The OpenAPI path: `<event_id>` becomes `{eventId}`."""
        return _RULE_VARIABLE.sub(lambda m: "{" + camel(m.group(1)) + "}", self.rule)

    @property
    def path_variables(self) -> tuple[str, ...]:
        return tuple(camel(name) for name in _RULE_VARIABLE.findall(self.rule))


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


class Resource(Blueprint):
    """A blueprint whose routes are declared with `route`, all under one tag of the document."""

    def __init__(self, name: str, import_name: str, *, tag: str) -> None:
        super().__init__(name, import_name)
        self.tag = tag
        self.operations: list[Operation] = []


def route(
    bp: Resource,
    method: Method,
    rule: str,
    *,
    operation_id: str,
    access: Access,
    summary: str,
    attendee: Attendee | None = None,
    replies: tuple[Reply, ...] = (),
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    params: tuple[Param, ...] = (),
    errors: tuple[int, ...] = (),
    error_notes: Mapping[int, str] | None = None,
    notes: str = "",
    documented: bool = True,
) -> Callable[[View], View]:
    """Register `rule` for `method` on `bp` and record it as an operation of the table."""

    def declare(view: View) -> View:
        operation = Operation(
            method=method,
            rule=rule,
            endpoint=f"{bp.name}.{view.__name__}",
            operation_id=operation_id,
            access=access,
            attendee=attendee,
            summary=summary,
            tag=bp.tag,
            replies=replies,
            body=body,
            body_required=body_required,
            params=params,
            errors=errors,
            error_notes=error_notes or {},
            notes=notes,
            documented=documented,
        )
        _check(operation)
        bp.add_url_rule(rule, view_func=view, methods=[method])
        bp.operations.append(operation)
        return view

    return declare


def _check(operation: Operation) -> None:
    """A declaration that cannot be documented fails on import, where it is written."""
    if not OPERATION_ID.fullmatch(operation.operation_id):
        raise ValueError(f"{operation.endpoint}: operationId must be camelCase")
    if not operation.documented:
        return
    if not operation.replies:
        raise ValueError(f"{operation.endpoint}: a documented operation declares its replies")
    declared = tuple(p.name for p in operation.params if p.where == "path")
    if sorted(declared) != sorted(operation.path_variables):
        raise ValueError(
            f"{operation.endpoint}: path parameters {declared} do not match {operation.rule}"
        )


_TABLE = "tessera.routes"


class RouteTable:
    """Every declared operation of an app, found by endpoint."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations = tuple(operations)
        self._by_endpoint = {op.endpoint: op for op in self.operations}
        if len(self._by_endpoint) != len(self.operations):
            raise ValueError("one view is declared as two operations")
        ids = [op.operation_id for op in self.operations]
        if len(set(ids)) != len(ids):
            raise ValueError(f"operationIds are not unique: {sorted(ids)}")

    @classmethod
    def of(cls, blueprints: Iterable[Blueprint]) -> RouteTable:
        return cls(op for bp in blueprints if isinstance(bp, Resource) for op in bp.operations)

    def operation(self, endpoint: str | None) -> Operation | None:
        return self._by_endpoint.get(endpoint or "")

    def access(self, endpoint: str | None) -> Access:
        """An endpoint nobody declared (a test's own, say) needs a key of either role."""
        found = self.operation(endpoint)
        return found.access if found is not None else Access.CLIENT

    def attendee(self, endpoint: str | None) -> Attendee | None:
        found = self.operation(endpoint)
        return found.attendee if found is not None else None

    def install(self, app: Flask) -> None:
        app.extensions[_TABLE] = self


def table_of(app: Flask) -> RouteTable:
    table: RouteTable = app.extensions[_TABLE]
    return table
