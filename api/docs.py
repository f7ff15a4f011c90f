"""`/openapi.json` and Swagger UI at `/docs`, its assets served from the installed
`swagger-ui-bundle-v2` wheel (Swagger UI 5, which renders OpenAPI 3.1): no CDN, so the docs
work offline and leak no visitor to a third party.

The page runs no inline script (its start-up is `docs/tessera-docs.js`), so it is served under a
strict Content-Security-Policy; and Swagger UI keeps an entered key in memory only, never in
the localStorage it would share with the console on the same origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Response, current_app, send_from_directory
from werkzeug.exceptions import NotFound

from api import openapi
from api.errors import ApiError
from api.routes import Access, Reply, Resource, route, table_of
from tessera import extras

bp = Resource("docs", __name__, tag="operations")

_DOCUMENT = "tessera.openapi"
_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)
_ASSET_MAX_AGE = 24 * 3600

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tessera API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script src="docs/tessera-docs.js"></script>
</body>
</html>
"""


START_SCRIPT_NAME = "tessera-docs.js"
START_SCRIPT = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  persistAuthorization: false
});
"""

# Swagger UI sets inline style attributes (React) and draws its icons from data: URIs; every
# script and every request comes from this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def _assets_dir() -> Path:
    try:
        module: Any = extras.require("swagger_ui_bundle")
    except extras.MissingExtra as missing:  # a lean image: the document is still served
        raise ApiError(404, "NOT_FOUND", f"{missing}; /openapi.json is served.") from None
    return Path(str(module.swagger_ui_path))


def document() -> dict[str, Any]:
    """Built on first use from the app's route table and kept for the app's life (it depends
    only on the code)."""
    doc: dict[str, Any] | None = current_app.extensions.get(_DOCUMENT)
    if doc is None:
        doc = openapi.build(table_of(current_app).operations)
        current_app.extensions[_DOCUMENT] = doc
    return doc


@route(
    bp,
    "GET",
    "/openapi.json",
    operation_id="getOpenApiDocument",
    access=Access.PUBLIC,
    summary="This document",
    replies=(Reply(200, "OpenAPI 3.1.", media="application/json"),),
)
def openapi_json() -> Response:
    response = Response(json.dumps(document()), mimetype="application/json")
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@route(
    bp,
    "GET",
    "/docs",
    operation_id="getSwaggerUi",
    access=Access.PUBLIC,
    summary="Swagger UI",
    replies=(Reply(200, "An HTML page.", media="text/html"),),
)
def swagger_ui() -> Response:
    _assets_dir()  # says which extra is missing rather than serving a page without its scripts
    response = Response(PAGE, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@route(
    bp,
    "GET",
    "/docs/<path:filename>",
    operation_id="getSwaggerAsset",
    access=Access.PUBLIC,
    summary="Swagger UI's scripts, styles and icons",
    documented=False,
)
def swagger_assets(filename: str) -> Response:
    if filename == START_SCRIPT_NAME:
        return Response(START_SCRIPT, mimetype="text/javascript")
    if filename not in _ASSETS:  # only what the page loads; never the wheel's other files
        raise NotFound()
    return send_from_directory(_assets_dir(), filename, max_age=_ASSET_MAX_AGE)
