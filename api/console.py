"""The operator console at `/console`: static files shipped in the package (no build step, no
CDN), served without a key under a strict Content-Security-Policy. The page holds no secret and
grants nothing: it signs in with a key the operator types and calls only the public API with it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, jsonify, redirect, send_from_directory, url_for
from werkzeug.wrappers import Response as BaseResponse

from api.routes import Access, Reply, Resource, route
from models.domain.settings import console_fields

bp = Resource("console", __name__, tag="operations")

CONSOLE_DIR = Path(__file__).parent / "static" / "console"
# The settings form's fields, made from the settings' declaration rather than restated in JS.
SETTINGS_FILE = "settings.json"

# Everything from this origin only, no inline script or style, no framing, and Trusted Types
# enforced: the page cannot assign markup strings to innerHTML-like sinks even by mistake.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


@bp.after_request
def _secure(response: Response) -> Response:
    """Every /console answer, its 404s included, carries the policy; revalidated on each load
    (ETags make that cheap) so an upgrade never leaves a stale script beside a new page."""
    response.headers.update(SECURITY_HEADERS)
    response.cache_control.no_cache = True
    return response


@route(
    bp,
    "GET",
    "/console",
    operation_id="getConsole",
    access=Access.PUBLIC,
    summary="The operator console (an HTML page; it signs in with a key and calls this API)",
    replies=(Reply(200, "An HTML page.", media="text/html"),),
)
def page() -> Response:
    return send_from_directory(CONSOLE_DIR, "index.html", max_age=0)


@route(
    bp,
    "GET",
    "/console/",
    operation_id="redirectToConsole",
    access=Access.PUBLIC,
    summary="The console's page without its trailing slash",
    documented=False,
)
def page_with_slash() -> BaseResponse:
    # The page's asset paths are relative to /console, so /console/ would break them.
    return redirect(url_for("console.page"), code=308)


@route(
    bp,
    "GET",
    "/console/<path:filename>",
    operation_id="getConsoleAsset",
    access=Access.PUBLIC,
    summary="The console's scripts, styles and images",
    documented=False,
)
def asset(filename: str) -> Response:
    if filename == SETTINGS_FILE:
        return jsonify(console_fields())
    # send_from_directory refuses any path that leaves the directory (404).
    return send_from_directory(CONSOLE_DIR, filename, max_age=0)
