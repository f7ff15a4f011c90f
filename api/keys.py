"""API keys made at run time (admin keys): create one (its secret shown once), list them,
revoke one. Keys from `TESSERA_API_KEYS` are not here: they are configuration."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app

from api.auth import admin_only
from api.body import parse_body
from api.context import ctx
from api.key_schemas import KEY_ID_PATTERN, Key, KeyCreate, KeyCreated, KeyList
from api.render import json_response
from api.runtime_keys import RuntimeKeys
from models import api_keys, db
from models.errors import KeyNotFound

bp = Blueprint("keys", __name__)

_KEY_ID = re.compile(KEY_ID_PATTERN)


def _out(view: api_keys.KeyView) -> Key:
    return Key.model_validate(view, from_attributes=True)


def _announce() -> None:
    runtime: RuntimeKeys = current_app.extensions["tessera.keys"]
    runtime.changed(ctx().redis)


@bp.post("/keys")
@admin_only
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


@bp.get("/keys")
@admin_only
def list_keys() -> Response:
    with ctx().sessions.begin() as session:
        views = api_keys.list_all(session)
    return json_response(KeyList(items=[_out(view) for view in views]))


@bp.delete("/keys/<key_id>")
@admin_only
def revoke_key(key_id: str) -> Response:
    if not _KEY_ID.fullmatch(key_id):  # names no key: 404 like any unknown one
        raise KeyNotFound(key_id)
    db.run(ctx().sessions, lambda session: api_keys.remove(session, key_id))
    _announce()
    return Response(status=204)
