"""The site as a client sees it: requests to the design's entry address, with the site's name.

On a design with HTTPS, requests go to port 443 and the server's certificate is checked against the
lab's own CA, for the site's name (sent as SNI), though the connection goes to the entry address.
Every request first asks whether the lab's network still exists: with the lab gone, its addresses
would be tried through the host's default route, where they belong to someone else.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from ..constants import HEALTH_PATH, SERVED_BY
from ..topology import Lab

MESSAGES_PATH = "/api/messages"


class LabGone(RuntimeError):
    """The lab's network disappeared while traffic was being sent; nothing more is sent."""


class NamedHostAdapter(HTTPAdapter):
    """HTTPS to an address, checking the certificate against the lab's CA for a name (as a browser
    would after a DNS lookup)."""

    def __init__(self, server_name: str, ca_file: Path) -> None:
        self.server_name = server_name
        self.context = ssl.create_default_context(cafile=str(ca_file))
        super().__init__(pool_maxsize=32)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        kwargs["ssl_context"] = self.context
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Site:
    """www.foobar.com at the design's entry address (the load balancer, or the floating address)."""

    address: str
    domain: str
    network_present: Callable[[], bool]
    ca_file: Path | None = None  # the lab's CA, where the design serves HTTPS
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        self._session.trust_env = False  # no proxy or CA bundle from the environment: the lab's traffic goes straight to it
        if self.ca_file is not None:
            self._session.mount("https://", NamedHostAdapter(self.domain, self.ca_file))

    @classmethod
    def of(cls, lab: Lab, network_present: Callable[[], bool], ca_file: Path | None = None) -> Site:
        return cls(str(lab.entry_address), lab.domain, network_present, ca_file if lab.has("https") else None)

    @property
    def scheme(self) -> str:
        return "https" if self.ca_file is not None else "http"

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        return f"{scheme or self.scheme}://{self.address}{path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.domain, "Connection": "close"}

    def _guard(self) -> None:
        if not self.network_present():
            raise LabGone(f"the lab's network is gone: no more requests to {self.address}")

    def get(self, path: str = HEALTH_PATH, timeout: float = 3.0, scheme: str | None = None) -> requests.Response:
        self._guard()
        return self._session.get(self.url(path, scheme), headers=self.headers, timeout=timeout, allow_redirects=False)

    def post_message(self, body: str, timeout: float = 3.0) -> requests.Response:
        self._guard()
        return self._session.post(self.url(MESSAGES_PATH), json={"body": body}, headers=self.headers, timeout=timeout)


def served_by(answer: requests.Response) -> str | None:
    """Which web server answered (the header each one adds)."""
    return answer.headers.get(SERVED_BY)
