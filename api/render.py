"""JSON responses from response models: camelCase, RFC 3339 timestamps, nothing else."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response
from pydantic import BaseModel

JSON = "application/json"


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(by_alias=True), status=status, mimetype=JSON)


def json_list(models: Sequence[BaseModel], status: int = 200) -> Response:
    body = "[" + ",".join(model.model_dump_json(by_alias=True) for model in models) + "]"
    return Response(body, status=status, mimetype=JSON)
