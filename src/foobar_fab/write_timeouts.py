"""How long each tier waits for a write, from the database up, all derived from the design's semi-sync timeout.

With semi-synchronous replication the primary holds a commit until a replica acknowledges it, or for
`lab.semi_sync_timeout_ms` at most; then it commits and answers. Every tier above must wait longer than
the one below it: a tier that gives up first answers the client with an error for a write the primary
then stores, the client tries again, and the message is stored twice. So the application waits for the
database longer than the semi-sync timeout, Nginx for the application longer than that, and HAProxy for a
web server longer still (for writes only: reads keep the profile's short timeout, which takes a hung
server out fast).
"""

from __future__ import annotations

from .topology import Lab

MARGIN_MS = 500  # each tier's allowance for the work above the wait below it (a LAN round trip is < 1 ms)
APP_CONNECT_MS = 500  # the application's connect timeout to the primary (foobar_app.storage.CONNECT_TIMEOUT)
APP_IO_MS = 2000  # the application's own wait for any query (foobar_app.storage.IO_TIMEOUT): the least it waits for a write
NGINX_FLOOR_MS = 10_000  # Nginx's read timeout for the application when the write wait is shorter


def app_write_ms(lab: Lab) -> int:
    """How long the application waits for the primary to answer a write (its read timeout on an INSERT)."""
    return max(APP_IO_MS, lab.semi_sync_timeout_ms + MARGIN_MS)


def nginx_read_ms(lab: Lab) -> int:
    """How long Nginx waits for the application's answer: longer than the application waits for a write."""
    return max(NGINX_FLOOR_MS, APP_CONNECT_MS + app_write_ms(lab) + MARGIN_MS)


def balancer_write_ms(lab: Lab) -> int:
    """HAProxy's server timeout for a write: longer than the application may take to connect, wait and answer."""
    return APP_CONNECT_MS + app_write_ms(lab) + MARGIN_MS
