"""Strict request parsing: JSON bodies and query strings into Pydantic models, or a 415/422."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from api.errors import ApiError, FieldError, validation_error
from models.domain.errors import DomainError
from models.domain.identity import ID_PATTERN

Model = TypeVar("Model", bound=BaseModel)
ID = re.compile(ID_PATTERN)


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic's errors as the contract's `{field, message}` items with dotted paths."""
    found: list[FieldError] = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"])
        field = f"{prefix}.{path}" if prefix and path else (prefix or path or "body")
        message = str(item["msg"])
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        found.append(FieldError(field, message.removeprefix("Value error, ")))
    return found


def json_object() -> dict[str, Any]:
    """The body as a JSON object. Not JSON → 415; malformed, empty, null, or not an
    object → 422 (never a 500)."""
    if request.mimetype != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json.")
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A streamed (chunked) body is cut off at the limit by Werkzeug without an error;
        # reaching the limit means it did not fit.
        raise ApiError(413, "PAYLOAD_TOO_LARGE", "The request body is too large.")
    if not raw.strip():
        raise validation_error([FieldError("body", "a JSON object is required")])
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise validation_error([FieldError("body", "malformed JSON")]) from None
    if not isinstance(data, dict):
        raise validation_error([FieldError("body", "must be a JSON object")])
    return data


def _not_json(constant: str) -> None:
    """NaN and Infinity are accepted by Python's parser but are not JSON."""
    raise ValueError(f"{constant} is not JSON")


def parse_body(model: type[Model]) -> Model:
    return validate(model, json_object())


def validate(model: type[Model], data: Mapping[str, Any], prefix: str = "") -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(field_errors(error, prefix)) from None


def parse_query(model: type[Model]) -> Model:
    """Query parameters into a model; repeated parameters keep only their first value."""
    return validate(model, {key: request.args[key] for key in request.args})


def checked_id(value: str, missing: Callable[[str], DomainError]) -> str:
    """A path id. One that breaks the id pattern cannot name anything that exists, so it is
    answered like any unknown id (404 with the resource's code), never looked up."""
    if not ID.fullmatch(value):
        raise missing(value)
    return value
