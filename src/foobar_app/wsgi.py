"""The WSGI entry point: `gunicorn foobar_app.wsgi:application`.

The settings come from FOOBAR_* environment variables (see config.py); a missing one stops the
start with a ConfigError naming it. No database is contacted at start: a node whose database is
down still starts, and its health check says why it cannot serve.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from foobar_app.app import create_app
from foobar_app.config import Settings
from foobar_app.storage import MySQLStorage


def build(environ: Mapping[str, str] = os.environ) -> Flask:
    """The application configured by `environ`, on MariaDB."""
    settings = Settings.from_env(environ)
    return create_app(settings, MySQLStorage(settings))


application = build()
