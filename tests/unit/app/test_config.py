"""Settings from FOOBAR_* variables, and the WSGI entry point gunicorn loads."""

from __future__ import annotations

import importlib
import sys

import pytest

from foobar_app.config import VARIABLES, ConfigError, Settings

from .conftest import REPLICA

ENVIRONMENT = {
    "FOOBAR_NODE": "web-02",
    "FOOBAR_DB_ROLE": "replica",
    "FOOBAR_WRITE_DB_HOST": "192.168.56.11",
    "FOOBAR_READ_DB_HOST": "127.0.0.1",
    "FOOBAR_DB_PORT": "3306",
    "FOOBAR_DB_NAME": "foobar",
    "FOOBAR_DB_USER": "foobar",
    "FOOBAR_DB_PASSWORD": "secret",
}


def test_settings_from_a_complete_environment() -> None:
    assert Settings.from_env(ENVIRONMENT) == REPLICA
    assert "secret" not in repr(Settings.from_env(ENVIRONMENT))


@pytest.mark.parametrize("name", list(VARIABLES.values()))
@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_missing_variable_is_named(name: str, value: str | None) -> None:
    environ = {k: v for k, v in ENVIRONMENT.items() if k != name}
    if value is not None:
        environ[name] = value
    with pytest.raises(ConfigError, match=f"missing environment variable: {name} "):
        Settings.from_env(environ)


def test_files_may_stand_for_the_database_hosts() -> None:
    """With FOOBAR_PRIMARY_FILE and FOOBAR_READ_FILE, the hosts come from files read at each use."""
    environ = {k: v for k, v in ENVIRONMENT.items() if "DB_HOST" not in k}
    settings = Settings.from_env({**environ, "FOOBAR_PRIMARY_FILE": "/etc/foobar/primary", "FOOBAR_READ_FILE": "/etc/foobar/read-database"})
    assert (settings.primary_file, settings.read_file) == ("/etc/foobar/primary", "/etc/foobar/read-database")
    with pytest.raises(ConfigError, match="missing environment variable: FOOBAR_READ_DB_HOST "):
        Settings.from_env({**environ, "FOOBAR_PRIMARY_FILE": "/etc/foobar/primary"})


def test_a_write_timeout_is_read_in_milliseconds() -> None:
    assert Settings.from_env({**ENVIRONMENT, "FOOBAR_WRITE_TIMEOUT_MS": "1500"}).write_timeout == 1.5
    with pytest.raises(ConfigError, match="FOOBAR_WRITE_TIMEOUT_MS must be a number of milliseconds"):
        Settings.from_env({**ENVIRONMENT, "FOOBAR_WRITE_TIMEOUT_MS": "soon"})


def test_reads_after_a_write_go_to_the_primary_for_whole_seconds() -> None:
    assert Settings.from_env(ENVIRONMENT).read_own_writes == 0
    assert Settings.from_env({**ENVIRONMENT, "FOOBAR_READ_OWN_WRITES_S": "5"}).read_own_writes == 5
    with pytest.raises(ConfigError, match="FOOBAR_READ_OWN_WRITES_S must be a whole number of seconds"):
        Settings.from_env({**ENVIRONMENT, "FOOBAR_READ_OWN_WRITES_S": "1.5"})


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError, match="missing environment variables: FOOBAR_NODE, FOOBAR_DB_PASSWORD "):
        Settings.from_env({k: v for k, v in ENVIRONMENT.items() if k not in ("FOOBAR_NODE", "FOOBAR_DB_PASSWORD")})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FOOBAR_DB_ROLE", "master", "FOOBAR_DB_ROLE must be one of primary, replica, auto, not 'master'"),
        ("FOOBAR_DB_PORT", "mysql", "FOOBAR_DB_PORT must be a TCP port number"),
        ("FOOBAR_DB_PORT", "70000", "FOOBAR_DB_PORT must be a TCP port number"),
        ("FOOBAR_NODE", "n" * 65, "FOOBAR_NODE is longer than 64 characters"),
    ],
)
def test_invalid_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**ENVIRONMENT, name: value})


def _import_wsgi(monkeypatch: pytest.MonkeyPatch):
    """Import foobar_app.wsgi afresh, as gunicorn does when a worker starts."""
    monkeypatch.delitem(sys.modules, "foobar_app.wsgi", raising=False)
    return importlib.import_module("foobar_app.wsgi")


def test_wsgi_application_is_built_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    wsgi = _import_wsgi(monkeypatch)
    # Built without contacting a database; the node's name is already on every response.
    response = wsgi.application.test_client().get("/nothing")
    assert response.headers["X-App-Node"] == "web-02"


def test_wsgi_refuses_to_start_without_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FOOBAR_WRITE_DB_HOST")
    with pytest.raises(ConfigError, match="missing environment variable: FOOBAR_WRITE_DB_HOST"):
        _import_wsgi(monkeypatch)
