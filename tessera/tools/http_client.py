"""The urllib opener the tools use to call a Tessera API: redirects are followed, but the
`Authorization` header only to the origin it was given for.

urllib's own redirect handler copies every header onto the redirected request, so an API (or
anything posing as one) that answers 302 to another host would receive the key.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from http.client import HTTPMessage
from typing import IO

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, with the scheme's default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


class _SameOriginCredentials(urllib.request.HTTPRedirectHandler):
    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and origin(newurl) != origin(req.full_url):
            for name in list(redirected.headers):
                if name.lower() in {"authorization", "cookie"}:
                    del redirected.headers[name]
        return redirected


def opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_SameOriginCredentials())
