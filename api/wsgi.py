"""The WSGI entry point for gunicorn: `gunicorn 'api.wsgi:create()'`.

A factory call, not a module-level app, so importing this module does no work."""

from __future__ import annotations

from flask import Flask

from api.app import create_app


def create() -> Flask:
    return create_app()
