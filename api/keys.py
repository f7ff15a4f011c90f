"""API keys made at run time (admin keys): create one (its secret shown once), list them,
revoke one. Keys from `TESSERA_API_KEYS` are not here: they are configuration."""

from __future__ import annotations

import re

from flask import Response, current_app

from api.body import parse_body
from api.context import ctx
from api.key_schemas import KEY_ID_PATTERN, Key, KeyCreate, KeyCreated, KeyList
from api.render import json_response
from api.routes import Access, Param, Reply, Resource, route
from api.runtime_keys import RuntimeKeys
from models.domain.errors import KeyNotFound
from models.storage import api_keys, db

bp = Resource("keys", __name__, tag="keys")

_KEY_ID = re.compile(KEY_ID_PATTERN)
KEY_ID = Param(
    "keyId",
    "path",
    {"type": "string", "pattern": KEY_ID_PATTERN},
    "A key id (from `POST /keys` or `GET /keys`). One that breaks the pattern is a 404.",
    True,
)


def _out(view: api_keys.KeyView) -> Key:
    return Key.model_validate(view, from_attributes=True)


def _announce() -> None:
    runtime: RuntimeKeys = current_app.extensions["tessera.keys"]
    runtime.changed(ctx().redis)


@route(
    bp,
    "POST",
    "/keys",
    operation_id="createKey",
    access=Access.ADMIN,
    summary="Make an API key",
    replies=(
        Reply(
            201,
            "The key, with its secret (shown only here; only its digest is kept).",
            KeyCreated,
            headers=("Location", "Cache-Control"),
        ),
    ),
    body=KeyCreate,
    notes="The new key works on every API process within 2 s (at once on this one). Keys "
    "from TESSERA_API_KEYS are configuration: never listed or deleted here.",
)
def create_key() -> Response:
    body = parse_body(KeyCreate)
    view, secret = db.run(
        ctx().sessions, lambda session: api_keys.create(session, body.name, body.role)
    )
    _announce()
    response = json_response(KeyCreated(**_out(view).model_dump(), secret=secret), 201)
    response.headers["Location"] = f"/keys/{view.key_id}"  # a ULID: nothing to escape
    response.headers["Cache-Control"] = "no-store"  # it carries the secret
    return response


@route(
    bp,
    "GET",
    "/keys",
    operation_id="listKeys",
    access=Access.ADMIN,
    summary="List the keys made here",
    replies=(Reply(200, "Oldest first; no secrets.", KeyList),),
)
def list_keys() -> Response:
    with ctx().sessions.begin() as session:
        views = api_keys.list_all(session)
    return json_response(KeyList(items=[_out(view) for view in views]))


@route(
    bp,
    "DELETE",
    "/keys/<key_id>",
    operation_id="revokeKey",
    access=Access.ADMIN,
    summary="Revoke a key",
    replies=(Reply(204, "Revoked: refused (401) by every API process within 2 s."),),
    params=(KEY_ID,),
    error_notes={404: "KEY_NOT_FOUND."},
)
def revoke_key(key_id: str) -> Response:
    if not _KEY_ID.fullmatch(key_id):  # names no key: 404 like any unknown one
        raise KeyNotFound(key_id)
    db.run(ctx().sessions, lambda session: api_keys.remove(session, key_id))
    _announce()
    return Response(status=204)
